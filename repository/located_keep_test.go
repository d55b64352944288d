package repository_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/opencontainers/go-digest"
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

// TestLocatedClear: after Clear, neither this Located nor one made later
// over its file knows the holders it had; holds after it are kept.
func TestLocatedClear(t *testing.T) {
	ctx := t.Context()
	peers := &fakePeers{}
	d := peers.keep("w1", []byte("made by a run's worker"))
	e := peers.keep("w2", []byte("made by the next run's"))
	path := filepath.Join(t.TempDir(), "locations")
	l := newLocated(t, peers)
	if err := l.Keep(path); err != nil {
		t.Fatal(err)
	}
	if err := l.Hold(ctx, d, 22, "w1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Clear(); err != nil {
		t.Fatal(err)
	}
	if holders, _ := l.Holders(d); len(holders) != 0 {
		t.Errorf("holders after Clear: %q, want none", holders)
	}
	if err := l.Hold(ctx, e, 21, "w2"); err != nil {
		t.Fatal(err)
	}
	l.Close()
	next := newLocated(t, peers)
	if err := next.Keep(path); err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	if holders, _ := next.Holders(d); len(holders) != 0 {
		t.Errorf("holders of a cleared hold read back: %q, want none", holders)
	}
	if holders, _ := next.Holders(e); !slices.Equal(holders, []string{"w2"}) {
		t.Errorf("holders of a hold after Clear read back: %q, want w2", holders)
	}
}

// TestLocatedForgetsSilentHolder: a holder that does not answer is
// dropped from every blob it held, so that it is waited on once.
func TestLocatedForgetsSilentHolder(t *testing.T) {
	ctx := t.Context()
	peers := &fakePeers{}
	d := peers.keep("w1", []byte("also on w1"))
	e := digest.FromString("only on the silent one")
	l := newLocated(t, peers)
	for _, h := range []struct {
		d      digest.Digest
		holder string
	}{{d, "silent"}, {e, "silent"}, {d, "w1"}} {
		if err := l.Hold(ctx, h.d, 10, h.holder); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Pull(ctx, d); err != nil { // silent first, then w1
		t.Fatal(err)
	}
	if holders, _ := l.Holders(e); len(holders) != 0 {
		t.Errorf("holders of %s after its holder did not answer: %q, want none", e, holders)
	}
}
