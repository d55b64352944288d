package proctest

import (
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// Hold gives a test cluster of one small node (the Slurm or the
// Kubernetes test cluster) to this test process until t ends: go test runs
// the tests of several packages at once, and their jobs or pods would
// starve each other of the node's cpus. The first test of this process to
// hold name takes an exclusive lock on the file of that name in the
// temporary directory, shared with the other test processes, waiting for
// it as long as another process holds it; the last of this process's
// tests holding it gives it back as it ends. Tests of one process share
// the lock, so they must not run the cluster's jobs in parallel.
//
// The locks are per process, so this is package-level state; only tests
// use it.
func Hold(t testing.TB, name string) {
	t.Helper()
	held.Lock()
	defer held.Unlock()
	h := held.m[name]
	if h == nil {
		f, err := os.OpenFile(filepath.Join(os.TempDir(), name), os.O_RDWR|os.O_CREATE, 0o666)
		if err != nil {
			t.Fatalf("proctest: %v", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			t.Fatalf("proctest: locking %s: %v", f.Name(), err)
		}
		h = &hold{f: f}
		held.m[name] = h
	}
	h.n++
	t.Cleanup(func() {
		held.Lock()
		defer held.Unlock()
		if h.n--; h.n == 0 {
			h.f.Close() // releases the lock
			delete(held.m, name)
		}
	})
}

type hold struct {
	n int
	f *os.File
}

var held = struct {
	sync.Mutex
	m map[string]*hold
}{m: make(map[string]*hold)}
