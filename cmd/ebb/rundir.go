package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/trylock"
)

// What a run keeps of its own under its -dir, apart from the runs of
// other States that share the -dir: a directory per kind of worker, and
// the lock that keeps a second driver of the same State out.

// stateDir is the directory of kind (machine: the machine worker;
// workers: the procs workers of -workers; slurm, command, kube: those
// providers' records and files) of the run whose State is at statePath:
// one per State under the run's -dir, DIR/KIND/HASH, so that runs of
// other States sharing a -dir keep theirs apart.
func stateDir(dir, kind, statePath string) string {
	sum := sha256.Sum256([]byte(statePath))
	return filepath.Join(dir, kind, hex.EncodeToString(sum[:8]))
}

// runName is the part of the names of a run's workers that tells them
// from another run's (Slurm job names, Kubernetes labels, command
// worker IDs): 8 hexadecimal digits of the hash of its State's path.
func runName(statePath string) string {
	sum := sha256.Sum256([]byte(statePath))
	return hex.EncodeToString(sum[:4])
}

// runDir makes the directory of kind under the run's -dir that is the
// run's own (stateDir), mode 0700, and takes the lock there
// (driver.lock) that keeps a second driver of the same State out: it
// fails with ebb.ErrUnavailable while another process drives the run.
// release lets go of the lock (once, however often it is called); a
// driver that dies lets go of it too.
func runDir(dir, kind, statePath string) (pdir string, release func(), err error) {
	pdir = stateDir(dir, kind, statePath)
	if err := os.MkdirAll(pdir, 0o700); err != nil {
		return "", nil, err
	}
	lock, err := lockFile(filepath.Join(pdir, "driver.lock"), kind)
	if err != nil {
		return "", nil, err
	}
	return pdir, sync.OnceFunc(func() { lock.Close() }), nil
}

// lockFile opens path and takes an exclusive lock on it, or fails with
// ebb.ErrUnavailable when another process holds it; what names the lock's
// workers in errors.
func lockFile(path, what string) (*os.File, error) {
	f, err := trylock.Lock(path, 0o600)
	if errors.Is(err, ebb.ErrUnavailable) {
		return nil, fmt.Errorf("%s: another ebb drives this run: %w", what, err)
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return f, nil
}
