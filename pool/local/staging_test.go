package local

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

// TestStagingMeasured: an exec's Result measures each input staged and
// each output stored: its name, digest, the file's size, a start within
// the exec and where it came from or went. A second exec of the alloc
// finds the input in the alloc's copy (cache).
func TestStagingMeasured(t *testing.T) {
	repo := newMemRepo()
	p := newPool(t, Config{Repository: repo})
	a := accept(t, p, nil)
	big, small := strings.Repeat("b", 100_000), "s\n"
	inBig, inSmall := repo.add(big), repo.add(small)
	cfg := sh(`cat big small > out && printf xyz > two`)
	cfg.Inputs = map[string]digest.Digest{"big": inBig, "small": inSmall}
	cfg.Outputs = []string{"out", "two"}
	before := time.Now()
	r := run(t, a, "first", cfg)
	if !r.OK() {
		t.Fatalf("Result = %+v, want success", r)
	}
	check := func(what string, got []pool.Transfer, want []pool.Transfer) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s = %+v, want %d transfers", what, got, len(want))
		}
		for i, w := range want {
			g := got[i]
			if g.Name != w.Name || g.Digest != w.Digest || g.Bytes != w.Bytes || g.Where != w.Where {
				t.Errorf("%s[%d] = %+v, want %s %s of %d bytes, where %q", what, i, g, w.Name, w.Digest, w.Bytes, w.Where)
			}
			if g.Start.Before(before) || g.Start.After(r.End.Add(time.Second)) || g.Duration < 0 {
				t.Errorf("%s[%d]: start %v, duration %v: not within the exec (%v to %v)", what, i, g.Start, g.Duration, before, r.End)
			}
		}
	}
	// memRepo has no GetFile: the pool reads through Get.
	check("StageIn", r.StageIn, []pool.Transfer{
		{Name: "big", Digest: inBig, Bytes: int64(len(big)), Where: pool.WhereRepository},
		{Name: "small", Digest: inSmall, Bytes: int64(len(small)), Where: pool.WhereRepository},
	})
	check("StageOut", r.StageOut, []pool.Transfer{
		{Name: "out", Digest: digest.FromString(big + small), Bytes: int64(len(big + small)), Where: pool.WhereRepository},
		{Name: "two", Digest: digest.FromString("xyz"), Bytes: 3, Where: pool.WhereRepository},
	})
	if n, d := pool.StagedBytes(r.StageIn); n != int64(len(big)+len(small)) || d < r.StageIn[0].Duration {
		t.Errorf("StagedBytes(StageIn) = %d, %v", n, d)
	}
	// A second exec finds the alloc's copy; Inspect carries the figures
	// too.
	cfg = sh("cat big > /dev/null")
	cfg.Inputs = map[string]digest.Digest{"big": inBig}
	e := put(t, a, "second", cfg)
	wait(t, e)
	in, err := e.Inspect(t.Context())
	if err != nil || in.Result == nil {
		t.Fatalf("Inspect = %+v, %v", in, err)
	}
	check("StageIn of a second exec", in.Result.StageIn, []pool.Transfer{{Name: "big", Digest: inBig, Bytes: int64(len(big)), Where: pool.WhereCache}})
	if len(in.Result.StageOut) != 0 {
		t.Errorf("StageOut of an exec without outputs = %+v", in.Result.StageOut)
	}
}

// sourcedOrigin is a BlobCache origin that says its blobs come from a
// peer, and records that it was asked.
type sourcedOrigin struct {
	*memRepo
	gets int
}

func (o *sourcedOrigin) GetFrom(ctx context.Context, d digest.Digest) (io.ReadCloser, string, error) {
	o.gets++
	rc, err := o.Get(ctx, d)
	return rc, pool.WherePeer, err
}

func (o *sourcedOrigin) Hold(ctx context.Context, d digest.Digest, size int64) error { return nil }

// TestStagingThroughCache: a pool over a BlobCache reports an input
// fetched by the cache as its origin says (a peer), then as cache once
// held; an output put into a cache whose origin holds (records) blobs is
// kept in the cache.
func TestStagingThroughCache(t *testing.T) {
	origin := &sourcedOrigin{memRepo: newMemRepo()}
	cache, err := NewBlobCache(BlobCacheConfig{Dir: filepath.Join(t.TempDir(), "cache"), Origin: origin})
	if err != nil {
		t.Fatal(err)
	}
	in := origin.add("input\n")
	for i, want := range []string{pool.WherePeer, pool.WhereCache} {
		// A new alloc each time: the alloc's own copy is not there.
		p := newPool(t, Config{Repository: cache})
		a := accept(t, p, nil)
		cfg := sh("cp in out")
		cfg.Inputs = map[string]digest.Digest{"in": in}
		cfg.Outputs = []string{"out"}
		r := run(t, a, "copy", cfg)
		if !r.OK() {
			t.Fatalf("Result = %+v", r)
		}
		if len(r.StageIn) != 1 || r.StageIn[0].Where != want || r.StageIn[0].Bytes != 6 {
			t.Errorf("exec %d: StageIn = %+v, want 6 bytes from %s", i, r.StageIn, want)
		}
		if len(r.StageOut) != 1 || r.StageOut[0].Where != pool.WhereCache || r.StageOut[0].Bytes != 6 {
			t.Errorf("exec %d: StageOut = %+v, want 6 bytes kept in the cache", i, r.StageOut)
		}
	}
	if origin.gets != 1 {
		t.Errorf("the origin was asked %d times, want once", origin.gets)
	}
}
