package local

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/trylock"
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
	lock, err = trylock.Lock(filepath.Join(dir, lockName), 0o644)
	if errors.Is(err, ebb.ErrUnavailable) {
		return nil, 0, fmt.Errorf("local: Config.Dir %s is in use by another pool: %w", dir, err)
	} else if err != nil {
		return nil, 0, fmt.Errorf("local: Config.Dir: %w", err)
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
