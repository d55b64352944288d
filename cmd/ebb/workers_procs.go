package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ebbflow/ebb/cluster/procs"
)

// procsWorkers makes the procs provider of -workers for the run whose
// State is at statePath, in the run's -dir. Its workers' directories and
// records are in DIR/workers/HASH (stateDir), so that a resume of the run
// adopts its own workers and never those of a run of another State that
// shares the -dir; a lock there (driver.lock), held until release, makes
// a second driver of the same State fail with ebb.ErrUnavailable while
// the first runs, rather than adopt the workers the first one holds. A
// driver that dies releases it.
//
// closeProv closes the provider, which stops the workers, removes what is
// left of the directory and releases the lock; release alone releases the
// lock, for a driver that keeps its workers for ebb resume. Both may be
// called, in either order.
//
// Workers recorded by an ebb that kept them in DIR/workers itself, for
// every State, are neither adopted nor stopped: nothing tells which run
// they served. They stop themselves once no lease of theirs was renewed
// for their -lease-timeout; procsWorkers says so in the log.
func procsWorkers(cfg procs.Config, dir, statePath string, log *slog.Logger) (p *procs.Provider, closeProv func(context.Context) error, release func(), err error) {
	pdir, release, err := runDir(dir, "workers", statePath)
	if err != nil {
		return nil, nil, nil, err
	}
	if old, _ := os.ReadDir(filepath.Join(dir, "workers", "records")); len(old) > 0 {
		log.Warn("workers recorded in the -dir by an earlier ebb, for any run, are not adopted: they stop themselves once idle for their lease timeout; remove the directory once they are gone", "dir", filepath.Join(dir, "workers", "records"))
	}
	cfg.Dir = pdir
	if p, err = procs.New(cfg); err != nil {
		release()
		return nil, nil, nil, err
	}
	closeProv = func(ctx context.Context) error {
		err := p.Close(ctx)
		// What is left once the workers are gone: the empty records
		// directory and the lock.
		os.Remove(filepath.Join(pdir, "records"))
		os.Remove(filepath.Join(pdir, "driver.lock"))
		release()
		os.Remove(pdir)
		os.Remove(filepath.Dir(pdir))
		return err
	}
	return p, closeProv, release, nil
}
