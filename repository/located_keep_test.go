package repository_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ebbflow/ebb"
)

// TestLocatedKeep: the holds of a Located that keeps its locations in a
// file are known to a Located made later over that file, as a resumed
// driver's, which pulls the blob from its holder; a line cut short by a
// crash is skipped and the next hold is whole.
func TestLocatedKeep(t *testing.T) {
	ctx := t.Context()
	peers := &fakePeers{}
	d := peers.keep("https://w1 sha256:pin", []byte("kept on w1"))
	e := peers.keep("w2", []byte("kept on w2"))
	path := filepath.Join(t.TempDir(), "locations")

	first := newLocated(t, peers)
	if err := first.Keep(path); err != nil {
		t.Fatal(err)
	}
	if err := first.Hold(ctx, d, 10, "https://w1 sha256:pin"); err != nil {
		t.Fatal(err)
	}
	if err := first.Hold(ctx, d, 10, "https://w1 sha256:pin"); err != nil { // once in the file
		t.Fatal(err)
	}
	if err := first.Keep(path); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("a second Keep: %v, want ErrInvalid", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the file: %v, %v; want mode 0600", fi, err)
	}
	// A driver killed in the middle of a line.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(string(e)[:20])
	f.Close()

	second := newLocated(t, peers)
	if err := second.Keep(path); err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if holders, size := second.Holders(d); !slices.Equal(holders, []string{"https://w1 sha256:pin"}) || size != 10 {
		t.Errorf("holders of %s after a restart: %q, size %d; want w1's, 10", d, holders, size)
	}
	if _, err := second.Stat(ctx, d); err != nil {
		t.Errorf("Stat after a restart: %v", err)
	}
	if err := second.Pull(ctx, d); err != nil {
		t.Errorf("Pull after a restart: %v", err)
	}
	if err := second.Hold(ctx, e, 10, "w2"); err != nil {
		t.Fatal(err)
	}
	second.Close()

	third := newLocated(t, peers)
	if err := third.Keep(path); err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if holders, _ := third.Holders(e); !slices.Equal(holders, []string{"w2"}) {
		t.Errorf("holders of %s held after a cut line: %q, want w2", e, holders)
	}
	if err := third.Hold(ctx, e, 10, "w\n3"); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("Hold by a holder with a line break: %v, want ErrInvalid", err)
	}
}
