package local

import "testing"

// TestIsLowerHex checks the eight-bytes-at-a-time check of exec IDs
// against the byte-wise one, for every byte value at every position.
func TestIsLowerHex(t *testing.T) {
	ref := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
		return true
	}
	base := []byte("0123456789abcdef0123456789abcdef")
	for pos := 0; pos < len(base); pos++ {
		for c := 0; c < 256; c++ {
			b := append([]byte(nil), base...)
			b[pos] = byte(c)
			if got, want := isLowerHex(string(b)), ref(string(b)); got != want {
				t.Fatalf("isLowerHex(%q) = %v, want %v", b, got, want)
			}
		}
	}
}
