package tokenfile

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	if err := Write(path, "secret"); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if b, _ := os.ReadFile(path); string(b) != "secret\n" {
		t.Errorf("content %q", b)
	}
	// A file that exists, whoever made it, is not reused.
	if err := Write(path, "other"); err == nil {
		t.Error("Write over an existing file: nil error")
	}
	if b, _ := os.ReadFile(path); string(b) != "secret\n" {
		t.Errorf("content after a second Write %q", b)
	}
}

func TestWithout(t *testing.T) {
	env := []string{"PATH=/bin", "EBB_TOKEN=x", "EBB_TOKEN_FILE=/f", "EBB_TOKEN_FILE_REMOVE=1", "EBB_TOKENS=y", "HOME=/h"}
	got := Without(env)
	if want := []string{"PATH=/bin", "EBB_TOKENS=y", "HOME=/h"}; !slices.Equal(got, want) {
		t.Errorf("Without = %q, want %q", got, want)
	}
	if len(env) != 6 || env[1] != "EBB_TOKEN=x" {
		t.Errorf("Without changed its argument: %q", env)
	}
}
