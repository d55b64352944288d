package local

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/ebbflow/ebb"
)

// The layout of a pool's directory:
//
//	Dir/lock                                  flock held by the live pool
//	Dir/allocs/<alloc>/work/<n>/              an exec's working directory: inputs,
//	                                          outputs; handed on to a later exec of
//	                                          the alloc when left as it was made
//	Dir/allocs/<alloc>/execs/<hex>/stdout     a command exec's streams, with
//	Dir/allocs/<alloc>/execs/<hex>/stderr     Config.KeepLogs
//	Dir/allocs/<alloc>/blobs/sha256-<hex>     a read-only copy of an input blob,
//	                                          fetched once for all the alloc's execs
//
// where <hex> is the encoded part of the exec's ID and <n> numbers the
// alloc's work directories. Directories are made when an exec first needs
// them, so an alloc that runs only funcs without inputs or outputs has
// none.
const (
	lockName   = "lock"
	allocsName = "allocs"
	execsName  = "execs"
	workName   = "work"
	blobsName  = "blobs"
)

// openDir makes dir if needed, locks it against other pools, and removes
// the alloc directories an earlier pool left in it. It returns the locked
// file, which the caller closes to unlock, and how many stale allocs were
// removed.
func openDir(dir string) (lock *os.File, stale int, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, 0, fmt.Errorf("local: Config.Dir: %w", err)
	}
	lock, err = os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, 0, fmt.Errorf("local: Config.Dir: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, 0, fmt.Errorf("local: Config.Dir %s is in use by another pool: %w", dir, ebb.ErrUnavailable)
		}
		return nil, 0, fmt.Errorf("local: locking Config.Dir %s: %w", dir, err)
	}
	allocs := filepath.Join(dir, allocsName)
	entries, _ := os.ReadDir(allocs)
	if err := os.RemoveAll(allocs); err != nil {
		lock.Close()
		return nil, 0, fmt.Errorf("local: removing stale allocs: %w", err)
	}
	if err := os.Mkdir(allocs, 0o755); err != nil {
		lock.Close()
		return nil, 0, fmt.Errorf("local: Config.Dir: %w", err)
	}
	return lock, len(entries), nil
}
