package heaptest

import "testing"

// TestPerItem: a kept slice of n 1 KiB arrays counts about 1 KiB an
// item (its 8-byte pointer too, less what the runtime freed meanwhile).
func TestPerItem(t *testing.T) {
	const n = 1000
	mark := Mark()
	kept := make([]*[1024]byte, n)
	for i := range kept {
		kept[i] = new([1024]byte)
	}
	if got := PerItem(mark, n, kept); got < 1000 || got > 1100 {
		t.Errorf("%d kept KiB: %.1f B an item, want 1,000 to 1,100", n, got)
	}
}
