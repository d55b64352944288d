package repository

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/opencontainers/go-digest"
)

func walkBlobs(t testing.TB, d *Dir) map[digest.Digest]int64 {
	t.Helper()
	got := make(map[digest.Digest]int64)
	if err := d.Walk(context.Background(), func(b Blob) error { got[b.Digest] = b.Size; return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestWalkRemove checks that Walk visits every stored blob and nothing
// else, and that Remove removes one blob, idempotently.
func TestWalkRemove(t *testing.T) {
	ctx := context.Background()
	d := openDir(t)
	a, b := put(t, d, []byte("a")), put(t, d, []byte("bb"))
	// Neither a file being written, nor a stray file, nor one named for a
	// digest in the wrong directory is a blob.
	stray := digest.FromString("stray")
	wrong := filepath.Join(filepath.Dir(d.path(a)), stray.Encoded())
	if stray.Encoded()[:2] == a.Encoded()[:2] {
		t.Fatal("pick another stray digest")
	}
	for _, p := range []string{filepath.Join(d.Root(), "tmp", "blob-1"), filepath.Join(filepath.Dir(d.path(a)), "notes"), wrong} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := walkBlobs(t, d), map[digest.Digest]int64{a: 1, b: 2}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Walk found %v, want %v", got, want)
	}
	if err := d.Remove(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got, want := walkBlobs(t, d), map[digest.Digest]int64{b: 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("after Remove, Walk found %v, want %v", got, want)
	}
	if _, err := d.Get(ctx, a); !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("Get of a removed blob: %v, want ErrNotExist", err)
	}
	if err := d.Remove(ctx, a); err != nil {
		t.Errorf("removing a removed blob: %v", err)
	}
	if err := d.Remove(ctx, "sha256:bad"); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("Remove(bad digest) = %v, want ErrInvalid", err)
	}
	stop := errors.New("stop")
	if err := d.Walk(ctx, func(Blob) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("Walk returned %v, want fn's error", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := d.Walk(cancelled, func(Blob) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Walk on a done context = %v, want context.Canceled", err)
	}
}

// TestRemoveWhileReading checks that removing a blob that is being read,
// or that was linked into a work directory, changes neither: Remove only
// unlinks the blob's name.
func TestRemoveWhileReading(t *testing.T) {
	ctx := context.Background()
	d := openDir(t)
	content := randomBytes(2, 3*chunkSize+5)
	dg := put(t, d, content)
	linked := filepath.Join(t.TempDir(), "in")
	if err := d.GetFile(ctx, dg, linked); err != nil {
		t.Fatal(err)
	}
	r, err := d.Get(ctx, dg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	head := make([]byte, chunkSize)
	if _, err := io.ReadFull(r, head); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove(ctx, dg); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(r) // verifies the digest at the end
	if err != nil {
		t.Fatalf("reading a blob removed under the reader: %v", err)
	}
	if got := append(head, rest...); string(got) != string(content) {
		t.Errorf("read %d bytes of a removed blob, want the %d stored", len(got), len(content))
	}
	if b, err := os.ReadFile(linked); err != nil || string(b) != string(content) {
		t.Errorf("file linked from a removed blob holds %d bytes (%v), want the %d stored", len(b), err, len(content))
	}
}

// TestCacheWalk checks that Walk visits every entry with its result, and
// a damaged one with its error rather than failing.
func TestCacheWalk(t *testing.T) {
	ctx := context.Background()
	c := openCache(t)
	good, bad := digest.FromString("good"), digest.FromString("bad")
	for _, k := range []digest.Digest{good, bad} {
		if err := c.Put(ctx, k, okResult); err != nil {
			t.Fatal(err)
		}
	}
	overwrite(t, c.path(bad), []byte(`{"version":1}`))
	// A file without the entries' extension is not an entry.
	if err := os.WriteFile(strings.TrimSuffix(c.path(good), ".json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := make(map[digest.Digest]Entry)
	n := 0
	if err := c.Walk(ctx, func(e Entry) error { got[e.Key] = e; n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 2 || len(got) != 2 {
		t.Fatalf("Walk visited %d entries of %d keys, want 2 of 2", n, len(got))
	}
	if e := got[good]; e.Err != nil || !reflect.DeepEqual(e.Result.Outputs, okResult.Outputs) || e.Size == 0 || e.ModTime.IsZero() {
		t.Errorf("Walk found %+v for a good entry", e)
	}
	if e := got[bad]; !errors.Is(e.Err, ebb.ErrCorrupt) {
		t.Errorf("Walk found a damaged entry with error %v, want ErrCorrupt", e.Err)
	}
}
