package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/procs"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/local"
	"github.com/ebbflow/ebb/repository"
)

// The machine pool of ebb run and resume is this machine's share of a
// run (-resources, or the whole machine): it holds the primary alloc and,
// without -workers, the auxiliary allocs.
//
// By default an `ebb worker` process serves it on loopback: the machine
// worker, which the driver starts with the procs provider (TLS with a
// pinned self-signed certificate, a fresh token, the run's repository
// shared through -repository). The worker is not the driver's: a driver
// that crashes (SIGKILL, OOM, a lost terminal) leaves it running with its
// execs, kept alive by the allocs' leases (a minute) and then by its
// -lease-timeout. `ebb resume` adopts it through the record the provider
// keeps under -dir (cluster.WorkerRecord, mode 0600), re-attaches the
// primary alloc the State names, and re-attaches its execs by digest: a
// task running at the crash runs on to its end once, and one that ended
// there is not run again.
//
// With -primary-in-process the pool lives in the driver (pool/local), as a
// library user's local.New does: a run starts a little faster, but the
// execs of the primary (and of local auxiliary allocs) die with a driver
// that crashes, and their tasks run again when it is resumed.
type machinePool struct {
	pool pool.Pool
	// release lets go of the lock this driver holds while it runs the
	// machine worker, as a driver that dies does; nil in process.
	release func()
	// stop stops the worker, or closes the in-process pool: the execs
	// still running are killed.
	stop func() error
}

// machineWorkerLeaseTimeout is the machine worker's -lease-timeout: how
// long it outlives the last lease of a driver that crashed, waiting for
// ebb resume. The allocs' own leases (a minute) end their execs sooner.
const machineWorkerLeaseTimeout = 5 * time.Minute

// startMachine returns the machine pool of a run whose State is saved at
// statePath, in f.dir: the machine worker (adopted when an earlier driver
// of the same State left one running, launched otherwise), or with
// -primary-in-process a pool in this process. It fails with
// ebb.ErrUnavailable when another driver of the same State runs.
func (f *runFlags) startMachine(ctx context.Context, statePath string, repo *repository.Dir, log *slog.Logger) (*machinePool, error) {
	if f.primaryInProcess {
		return f.inProcessMachine(ctx, repo, log)
	}
	// The lock says this driver runs the State's machine worker: a
	// second driver of the same State must not adopt it.
	dir, release, err := runDir(f.dir, "machine", statePath)
	if err != nil {
		return nil, fmt.Errorf("machine worker: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			release()
		}
	}()
	res := f.resources
	if res.IsZero() {
		if res, err = local.MachineResources(f.dir); err != nil {
			return nil, err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("machine worker: finding this ebb to start it with: %w", err)
	}
	shape := cluster.Shape{Name: "machine", Resources: res}
	p, err := procs.New(procs.Config{
		Command:      []string{self, "worker", "-log", filepath.Join(dir, "worker.log")},
		Shapes:       []cluster.Shape{shape},
		Dir:          dir,
		Repository:   filepath.Join(f.dir, "repository"),
		LeaseTimeout: machineWorkerLeaseTimeout,
		Logger:       log,
	})
	if err != nil {
		return nil, err
	}
	closeProv := func() error {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		err := p.Close(cctx)
		// What is left of a run that ended: its log, the empty records
		// directory, the lock.
		os.Remove(filepath.Join(dir, "worker.log"))
		os.Remove(filepath.Join(dir, "records"))
		os.Remove(filepath.Join(dir, "driver.lock"))
		release()
		os.Remove(dir)
		os.Remove(filepath.Dir(dir))
		return err
	}
	w, err := machineWorker(ctx, p, shape, log)
	if err != nil {
		closeProv()
		return nil, err
	}
	ok = true
	return &machinePool{pool: newMachineWorkerPool(p, shape, w, log), release: release, stop: closeProv}, nil
}

// machineWorker returns the worker p adopted from an earlier driver,
// terminating any other, or else the one it launches.
func machineWorker(ctx context.Context, p *procs.Provider, shape cluster.Shape, log *slog.Logger) (cluster.Worker, error) {
	ws, err := p.Workers(ctx)
	if err != nil {
		return cluster.Worker{}, fmt.Errorf("machine worker: %w", err)
	}
	if len(ws) > 0 {
		for _, extra := range ws[1:] {
			if err := p.Terminate(ctx, extra.ID); err != nil {
				return cluster.Worker{}, fmt.Errorf("machine worker: %w", err)
			}
		}
		w := ws[0]
		if !w.Shape.Resources.Equal(shape.Resources) {
			log.Info("the machine worker of the earlier driver keeps its capacity", "capacity", w.Shape.Resources, "asked", shape.Resources)
		}
		log.Info("adopted the machine worker of the earlier driver", "worker", w.ID)
		return w, nil
	}
	w, err := p.Launch(ctx, shape, nil)
	if err != nil {
		return cluster.Worker{}, fmt.Errorf("machine worker: %w", err)
	}
	return w, nil
}

// inProcessMachine serves the local pool inside ebb (-primary-in-process).
func (f *runFlags) inProcessMachine(ctx context.Context, repo *repository.Dir, log *slog.Logger) (*machinePool, error) {
	p, err := local.New(local.Config{Dir: filepath.Join(f.dir, "pool"), Resources: f.resources, Repository: repo, Logger: log})
	if err != nil {
		return nil, err
	}
	return &machinePool{pool: p, stop: func() error { return closeBounded(ctx, p, closeTimeout) }}, nil
}
