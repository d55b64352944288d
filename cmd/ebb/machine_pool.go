package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/procs"
	"github.com/ebbflow/ebb/pool"
)

// machineWorkerPool is the pool of the machine worker, which it starts
// again when the worker exited while the driver runs (killed by hand, or
// by the out-of-memory killer): the allocs it held are lost with it, as
// any lost alloc is (the runner takes a new primary), and the run goes
// on. Without it a run whose worker died would retry forever against a
// server that is gone.
//
// Each call goes to the current worker's pool; one that fails while the
// provider no longer lists that worker launches another and is tried
// again on it, once. Its ID is "machine", whichever worker serves.
// It is safe for concurrent use: cur is guarded by sem, a semaphore of
// one that a launch holds, and that a caller waits for with its ctx.
type machineWorkerPool struct {
	prov  *procs.Provider
	shape cluster.Shape
	log   *slog.Logger

	sem chan struct{} // holds one token: whoever holds it may read and replace cur
	cur cluster.Worker
}

var _ pool.Pool = (*machineWorkerPool)(nil)

func newMachineWorkerPool(prov *procs.Provider, shape cluster.Shape, w cluster.Worker, log *slog.Logger) *machineWorkerPool {
	return &machineWorkerPool{prov: prov, shape: shape, log: log, sem: make(chan struct{}, 1), cur: w}
}

// current returns the pool of the worker that serves now.
func (m *machineWorkerPool) current(ctx context.Context) (pool.Pool, cluster.WorkerID, error) {
	select {
	case m.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
	defer func() { <-m.sem }()
	return m.cur.Pool, m.cur.ID, nil
}

// replace launches a worker in place of the one named gone, unless the
// provider still lists it (the call failed for another reason: false)
// or another caller replaced it already.
func (m *machineWorkerPool) replace(ctx context.Context, gone cluster.WorkerID) (bool, error) {
	select {
	case m.sem <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-m.sem }()
	if m.cur.ID != gone {
		return true, nil
	}
	ws, err := m.prov.Workers(ctx)
	if err != nil {
		return false, err
	}
	if slices.ContainsFunc(ws, func(w cluster.Worker) bool { return w.ID == gone }) {
		return false, nil
	}
	m.log.Warn("the machine worker is gone; starting another (the tasks it ran run again)", "worker", gone)
	w, err := m.prov.Launch(ctx, m.shape, nil)
	if err != nil {
		return false, fmt.Errorf("machine worker: %w", err)
	}
	m.cur = w
	return true, nil
}

// do calls f on the current pool, and once more on a new worker's when
// it failed because the worker is gone.
func do[T any](ctx context.Context, m *machineWorkerPool, f func(pool.Pool) (T, error)) (T, error) {
	p, id, err := m.current(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := f(p)
	if err == nil || ctx.Err() != nil {
		return v, err
	}
	replaced, rerr := m.replace(ctx, id)
	if rerr != nil || !replaced {
		return v, err
	}
	if p, _, err = m.current(ctx); err != nil {
		return v, err
	}
	return f(p)
}

// ID returns "machine".
func (m *machineWorkerPool) ID() string { return "machine" }

func (m *machineWorkerPool) Capacity(ctx context.Context) ([]ebb.Resources, error) {
	return do(ctx, m, func(p pool.Pool) ([]ebb.Resources, error) { return p.Capacity(ctx) })
}

func (m *machineWorkerPool) Offers(ctx context.Context) ([]pool.Offer, error) {
	return do(ctx, m, func(p pool.Pool) ([]pool.Offer, error) { return p.Offers(ctx) })
}

func (m *machineWorkerPool) Alloc(ctx context.Context, id string) (pool.Alloc, error) {
	return do(ctx, m, func(p pool.Pool) (pool.Alloc, error) { return p.Alloc(ctx, id) })
}

func (m *machineWorkerPool) Allocs(ctx context.Context) ([]pool.Alloc, error) {
	return do(ctx, m, func(p pool.Pool) ([]pool.Alloc, error) { return p.Allocs(ctx) })
}
