// Package trylock takes an exclusive lock on a file without waiting: how
// a pool's directory and a run's machine worker are kept to one process.
package trylock

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/ebbflow/ebb"
)

// Lock opens (creating it with perm) the file at path and takes an
// exclusive lock on it, which closing the file, or the process ending,
// gives back. It fails with an error wrapping ebb.ErrUnavailable when
// another open file holds the lock.
func Lock(path string, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, perm)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s is locked by another process: %w", path, ebb.ErrUnavailable)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return f, nil
}
