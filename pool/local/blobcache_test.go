package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

func newTestCache(t *testing.T, origin *gatedRepo, max int64) *BlobCache {
	t.Helper()
	c, err := NewBlobCache(BlobCacheConfig{Dir: filepath.Join(t.TempDir(), "cache"), MaxBytes: max, Origin: origin})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openOrigin() *gatedRepo {
	g := &gatedRepo{memRepo: newMemRepo(), gate: make(chan struct{})}
	close(g.gate)
	return g
}

func readCached(t *testing.T, c *BlobCache, d digest.Digest) (string, error) {
	t.Helper()
	r, err := c.Get(t.Context(), d)
	if err != nil {
		return "", err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	return string(b), err
}

// TestBlobCacheFetchesOnce: concurrent Gets of one blob share one fetch
// from the origin, and later Gets and GetFiles fetch nothing.
func TestBlobCacheFetchesOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		origin := &gatedRepo{memRepo: newMemRepo(), gate: make(chan struct{})}
		d := origin.add("shared input")
		c := newTestCache(t, origin, 0)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() {
				got, err := readCached(t, c, d)
				if err == nil && got != "shared input" {
					err = errors.New("wrong content " + got)
				}
				errs[i] = err
			})
		}
		synctest.Wait() // every Get waits on the one fetch
		close(origin.gate)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Get %d: %v", i, err)
			}
		}
		if err := c.GetFile(t.Context(), d, filepath.Join(t.TempDir(), "f")); err != nil {
			t.Fatal(err)
		}
		if got := origin.gets.Load(); got != 1 {
			t.Errorf("origin Gets = %d, want 1", got)
		}
		st := c.Stats()
		if st.Misses != 1 || st.FetchedBytes != int64(len("shared input")) {
			t.Errorf("stats = %+v, want 1 miss and %d bytes fetched", st, len("shared input"))
		}
	})
}

// TestBlobCacheEvictsLRU: fetched copies stay within MaxBytes, the least
// recently used going first; a put blob is never evicted.
func TestBlobCacheEvictsLRU(t *testing.T) {
	origin := openOrigin()
	a, b, x := origin.add("aaaa"), origin.add("bbbb"), origin.add("xxxx")
	c := newTestCache(t, origin, 8)
	kept, err := c.Put(t.Context(), strings.NewReader("kept output, larger than the bound"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []digest.Digest{a, b, a, x} { // b is now the least recently used
		if _, err := readCached(t, c, d); err != nil {
			t.Fatal(err)
		}
	}
	for d, want := range map[digest.Digest]bool{a: true, b: false, x: true, kept: true} {
		if got := c.Has(d); got != want {
			t.Errorf("Has(%s) = %v, want %v", d, got, want)
		}
	}
	if st := c.Stats(); st.CachedBytes > 8 || st.Evicted != 1 {
		t.Errorf("stats = %+v, want at most 8 bytes cached and 1 eviction", st)
	}
	if _, err := readCached(t, c, b); err != nil {
		t.Fatal(err)
	}
	if got := origin.gets.Load(); got != 4 {
		t.Errorf("origin Gets = %d, want 4 (a, b, x, then b again)", got)
	}
}

// TestBlobCacheVerifies: a cached copy changed on disk fails its read with
// ErrCorrupt and is fetched again; GetFile refetches it itself.
func TestBlobCacheVerifies(t *testing.T) {
	origin := openOrigin()
	d := origin.add("the true content")
	c := newTestCache(t, origin, 0)
	if _, err := readCached(t, c, d); err != nil {
		t.Fatal(err)
	}
	corrupt := func() {
		p := c.path(d)
		os.Chmod(p, 0o644)
		if err := os.WriteFile(p, []byte("the false content"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	corrupt()
	if _, err := readCached(t, c, d); !errors.Is(err, ebb.ErrCorrupt) {
		t.Fatalf("Get of a corrupt copy: %v, want ErrCorrupt", err)
	}
	if got, err := readCached(t, c, d); err != nil || got != "the true content" {
		t.Fatalf("Get after corruption = %q, %v", got, err)
	}
	corrupt()
	out := filepath.Join(t.TempDir(), "out")
	if err := c.GetFile(t.Context(), d, out); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "the true content" {
		t.Errorf("GetFile wrote %q", b)
	}
	if st := c.Stats(); st.Corrupt != 2 || origin.gets.Load() != 3 {
		t.Errorf("stats = %+v, origin Gets = %d; want 2 corrupt, 3 Gets", st, origin.gets.Load())
	}
}

type holdingOrigin struct {
	*gatedRepo
	held map[digest.Digest]int64
}

func (o *holdingOrigin) Hold(ctx context.Context, d digest.Digest, size int64) error {
	o.held[d] = size
	return nil
}

// TestBlobCachePut: a put blob stays here and a Holder origin only hears
// of it; any other origin gets a copy.
func TestBlobCachePut(t *testing.T) {
	h := &holdingOrigin{gatedRepo: openOrigin(), held: map[digest.Digest]int64{}}
	c, err := NewBlobCache(BlobCacheConfig{Dir: t.TempDir(), Origin: h})
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Put(t.Context(), strings.NewReader("an output"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := h.get(d); ok || h.held[d] != int64(len("an output")) {
		t.Errorf("holder origin: stored %v, held %v; want only held", ok, h.held)
	}
	if got, err := readCached(t, c, d); err != nil || got != "an output" || h.gets.Load() != 0 {
		t.Errorf("Get of a put blob = %q, %v, with %d origin Gets", got, err, h.gets.Load())
	}

	plain := openOrigin()
	c2 := newTestCache(t, plain, 0)
	d2, err := c2.Put(t.Context(), strings.NewReader("another"))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := plain.get(d2); !ok || got != "another" {
		t.Errorf("plain origin has %q, %v after Put", got, ok)
	}
}

// TestBlobCacheReopens: a new cache over the same directory finds what
// the last one held.
func TestBlobCacheReopens(t *testing.T) {
	origin := openOrigin()
	d := origin.add("persisted")
	dir := t.TempDir()
	c, _ := NewBlobCache(BlobCacheConfig{Dir: dir, Origin: origin})
	if _, err := readCached(t, c, d); err != nil {
		t.Fatal(err)
	}
	c2, err := NewBlobCache(BlobCacheConfig{Dir: dir, Origin: origin})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := readCached(t, c2, d); err != nil || got != "persisted" || origin.gets.Load() != 1 {
		t.Errorf("Get from a reopened cache = %q, %v, %d origin Gets", got, err, origin.gets.Load())
	}
	if _, err := NewBlobCache(BlobCacheConfig{Dir: dir}); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("NewBlobCache without Origin: %v, want ErrInvalid", err)
	}
}

// TestBlobCacheStagesPool: a pool over the cache stages one input for
// many execs with one fetch.
func TestBlobCacheStagesPool(t *testing.T) {
	origin := openOrigin()
	d := origin.add("staged")
	c := newTestCache(t, origin, 0)
	p := newPool(t, Config{Repository: c})
	for i := range 2 { // two allocs, each with a copy of the input of its own
		a := accept(t, p, nil)
		for j := range 3 {
			cfg := pool.ExecConfig{Func: readInput("staged"), Inputs: map[string]digest.Digest{"in": d}}
			if r := run(t, a, fmt.Sprint("task", i, j), cfg); !r.OK() {
				t.Fatalf("exec: %+v", r)
			}
		}
	}
	if got := origin.gets.Load(); got != 1 {
		t.Errorf("origin Gets = %d, want 1", got)
	}
}
