package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

// newPool returns a pool of cfg over a test directory, closed when the
// test ends. cfg.Resources defaults to 4 cpu and 8 GiB of memory.
func newPool(t testing.TB, cfg Config) *Pool {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.Resources == nil {
		cfg.Resources = ebb.Resources{ebb.CPU: 4, ebb.Mem: 8 << 30}
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// accept takes an alloc of min from the pool's one offer.
func accept(t testing.TB, p *Pool, min ebb.Resources) pool.Alloc {
	t.Helper()
	ctx := context.Background()
	offers, err := p.Offers(ctx)
	if err != nil || len(offers) != 1 {
		t.Fatalf("Offers = %v, %v; want one offer", offers, err)
	}
	a, err := offers[0].Accept(ctx, pool.AllocMeta{Want: ebb.Requirements{Min: min}, Owner: "test"})
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	return a
}

// id returns an exec ID named by s.
func id(s string) pool.ExecID {
	return digest.FromString(s)
}

// put starts an exec and fails the test if Put fails.
func put(t testing.TB, a pool.Alloc, name string, cfg pool.ExecConfig) pool.Exec {
	t.Helper()
	e, err := a.Put(context.Background(), id(name), cfg)
	if err != nil {
		t.Fatalf("Put %s: %v", name, err)
	}
	return e
}

// wait waits for e and fails the test if Wait fails, or if the exec has
// not ended within a minute (of fake time in a synctest bubble).
func wait(t testing.TB, e pool.Exec) pool.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := e.Wait(ctx)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return r
}

// run puts an exec, waits for it, and returns its result.
func run(t testing.TB, a pool.Alloc, name string, cfg pool.ExecConfig) pool.Result {
	t.Helper()
	return wait(t, put(t, a, name, cfg))
}

// sh is a command exec of a shell script.
func sh(script string) pool.ExecConfig {
	return pool.ExecConfig{Argv: []string{"sh", "-c", script}, Env: []string{"PATH=/usr/bin:/bin"}}
}

// blockFunc runs until it is killed.
func blockFunc(ctx context.Context, _ ebb.FuncEnv) error {
	<-ctx.Done()
	return ctx.Err()
}

// memRepo is a Repository in a map. It is safe for concurrent use.
type memRepo struct {
	mu    sync.Mutex
	blobs map[digest.Digest][]byte
}

func newMemRepo() *memRepo { return &memRepo{blobs: map[digest.Digest][]byte{}} }

func (r *memRepo) Get(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.blobs[d]
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", d, ebb.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (r *memRepo) Put(ctx context.Context, rd io.Reader) (digest.Digest, error) {
	b, err := io.ReadAll(rd)
	if err != nil {
		return "", err
	}
	d := digest.FromBytes(b)
	r.mu.Lock()
	r.blobs[d] = b
	r.mu.Unlock()
	return d, nil
}

func (r *memRepo) add(s string) digest.Digest {
	d, _ := r.Put(context.Background(), strings.NewReader(s))
	return d
}

func (r *memRepo) get(d digest.Digest) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.blobs[d]
	return string(b), ok
}

var _ pool.Repository = (*memRepo)(nil)

// blockedGoroutines returns the stacks of the goroutines that are blocked
// (on a channel, lock, system call, I/O or sleep) in code of this package
// outside its tests. A goroutine that is running or runnable is finishing
// its last instructions and does not count: a leaked goroutine is blocked.
func blockedGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	_, self, _, _ := runtime.Caller(0)
	dir := filepath.Dir(self) + "/"
	var out []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		// "goroutine 7 [chan receive, 2 minutes, synctest bubble 1]:"
		header, _, _ := strings.Cut(g, "\n")
		_, state, _ := strings.Cut(header, "[")
		state, _, _ = strings.Cut(state, "]")
		state, _, _ = strings.Cut(state, ",")
		if state == "running" || state == "runnable" {
			continue
		}
		for line := range strings.SplitSeq(g, "\n") {
			line = strings.TrimSpace(line)
			file, _, _ := strings.Cut(line, ":")
			if strings.HasPrefix(file, dir) && !strings.HasSuffix(file, "_test.go") && !strings.Contains(file[len(dir):], "/") {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// checkNoGoroutines fails the test if a goroutine of the package is left.
func checkNoGoroutines(t testing.TB) {
	t.Helper()
	if gs := blockedGoroutines(); len(gs) > 0 {
		t.Errorf("%d goroutines left behind:\n%s", len(gs), strings.Join(gs, "\n\n"))
	}
}

// adoptOrphans makes this test process adopt the orphans of its
// descendants, so that a test can reap them itself instead of waiting for
// init to. Without it, a killed process whose parent died first lingers as
// a zombie, still counted in its process group, until init gets round to
// it, which may take seconds.
func adoptOrphans(t testing.TB) {
	t.Helper()
	if err := becomeSubreaper(); err != nil {
		t.Fatal(err)
	}
}

// checkGroupGone fails the test unless every process of group pgid has
// exited. It reaps, without waiting, the zombies of the group that are
// this process's children (orphans adopted by adoptOrphans): if any
// member were still alive, one would be left and kill(-pgid, 0) would
// find it.
func checkGroupGone(t testing.TB, pgid int) {
	t.Helper()
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-pgid, &ws, syscall.WNOHANG, nil)
		if err != nil || pid == 0 {
			break
		}
	}
	if err := syscall.Kill(-pgid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process group %d: kill(-pgid, 0) = %v, want ESRCH: processes left behind:\n%s", pgid, err, groupListing(pgid))
	}
}

// groupListing lists the processes of group pgid, for failure messages.
func groupListing(pgid int) string {
	var b strings.Builder
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if g, alive := procGroup(pid); g == pgid {
			stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			fmt.Fprintf(&b, "  pid %d (alive %v): %s\n", pid, alive, strings.TrimSpace(string(stat)))
		}
	}
	return b.String()
}
