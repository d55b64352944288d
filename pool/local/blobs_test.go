package local

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository"
	"github.com/opencontainers/go-digest"
)

// gatedRepo is a memRepo whose Gets count themselves and block until gate
// is closed or their context is done.
type gatedRepo struct {
	*memRepo
	gate chan struct{}
	gets atomic.Int32
}

func (r *gatedRepo) Get(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
	r.gets.Add(1)
	select {
	case <-r.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return r.memRepo.Get(ctx, d)
}

// readInput is a Func that fails unless its input "in" holds want.
func readInput(want string) ebb.Func {
	return func(ctx context.Context, env ebb.FuncEnv) error {
		b, err := os.ReadFile(filepath.Join(env.Dir, "in"))
		if err != nil {
			return err
		}
		if string(b) != want {
			return fmt.Errorf("input in = %q, want %q", b, want)
		}
		return nil
	}
}

func TestSharedInputFetchedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		repo := &gatedRepo{memRepo: newMemRepo(), gate: make(chan struct{})}
		in := repo.add("shared\n")
		p := newPool(t, Config{Repository: repo})
		a := accept(t, p, nil)
		const n = 4
		var execs []pool.Exec
		for i := range n {
			cfg := pool.ExecConfig{Func: readInput("shared\n"), Inputs: map[string]digest.Digest{"in": in}}
			execs = append(execs, put(t, a, fmt.Sprint("task", i), cfg))
		}
		synctest.Wait() // every exec is staging
		close(repo.gate)
		for i, e := range execs {
			if r := wait(t, e); !r.OK() {
				t.Errorf("exec %d of %d sharing an input: %+v, want success", i, n, r)
			}
		}
		if got := repo.gets.Load(); got != 1 {
			t.Errorf("%d execs staging one blob at once called Get %d times, want 1", n, got)
		}
		// A later exec of the alloc finds the blob already fetched.
		cfg := pool.ExecConfig{Func: readInput("shared\n"), Inputs: map[string]digest.Digest{"in": in}}
		if r := wait(t, put(t, a, "later", cfg)); !r.OK() {
			t.Errorf("later exec: %+v, want success", r)
		}
		if got := repo.gets.Load(); got != 1 {
			t.Errorf("Get called %d times after a later exec of the alloc, want still 1", got)
		}
	})
}

func TestSharedInputFetcherKilled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		repo := &gatedRepo{memRepo: newMemRepo(), gate: make(chan struct{})}
		in := repo.add("shared\n")
		p := newPool(t, Config{Repository: repo})
		a := accept(t, p, nil)
		cfg := pool.ExecConfig{Func: readInput("shared\n"), Inputs: map[string]digest.Digest{"in": in}}
		first := put(t, a, "first", cfg)
		synctest.Wait() // first is fetching
		second := put(t, a, "second", cfg)
		synctest.Wait() // second waits on first's fetch
		if err := first.Kill(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // second fetches anew
		close(repo.gate)
		if r := wait(t, first); !r.Killed {
			t.Errorf("Result of the killed fetcher = %+v, want killed", r)
		}
		if r := wait(t, second); !r.OK() {
			t.Errorf("Result of the exec that waited on a killed one's fetch = %+v, want success", r)
		}
		if got := repo.gets.Load(); got != 2 {
			t.Errorf("Get called %d times, want 2 (the killed fetch, then the survivor's)", got)
		}
	})
}

// fileRepo is a repository.Dir that counts its Gets and GetFiles.
type fileRepo struct {
	*repository.Dir
	gets, getFiles atomic.Int32
}

func (r *fileRepo) Get(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
	r.gets.Add(1)
	return r.Dir.Get(ctx, d)
}

func (r *fileRepo) GetFile(ctx context.Context, d digest.Digest, path string) error {
	r.getFiles.Add(1)
	return r.Dir.GetFile(ctx, d, path)
}

func TestSharedInputGetFile(t *testing.T) {
	dir, err := repository.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	repo := &fileRepo{Dir: dir}
	in, err := repo.Put(t.Context(), strings.NewReader("shared\n"))
	if err != nil {
		t.Fatal(err)
	}
	p := newPool(t, Config{Repository: repo})
	a := accept(t, p, nil)
	for i := range 3 {
		cfg := sh(`test "$(cat in)" = shared && echo changed > in`)
		cfg.Inputs = map[string]digest.Digest{"in": in}
		if r := run(t, a, fmt.Sprint("task", i), cfg); !r.OK() {
			t.Errorf("exec %d reading a staged input and changing its copy: %+v, want success", i, r)
		}
	}
	if g, f := repo.gets.Load(), repo.getFiles.Load(); g != 0 || f != 1 {
		t.Errorf("3 execs of one alloc staging one blob called Get %d times and GetFile %d times, want 0 and 1", g, f)
	}
	if _, err := repo.Stat(t.Context(), in); err != nil {
		t.Errorf("the stored blob after execs changed their copies: %v", err)
	}
}
