package runner

import (
	"context"
	"fmt"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

// puller is a repository that may know blobs it does not hold, kept by
// the workers that made them (repository.Located): Pull copies one in.
type puller interface {
	Pull(ctx context.Context, d digest.Digest) error
}

// collect brings the outputs of task t, which just succeeded, into the
// run's repository when the flow's caller asked for them: t is a sink
// (Eval.Outputs reports its outputs). Other tasks' outputs, the
// intermediates, stay on the worker that made them, which serves them to
// the next task's worker directly. A sink's outputs are copied as soon as
// it ends, so that losing its worker afterwards loses nothing the caller
// asked for. The intermediates still needed on an alloc that is given
// back are copied before it goes (see evacuate); one lost with its
// worker is made again (see lostInputs). A repository that holds every
// blob itself makes collect a no-op.
func (e *Eval) collect(ctx context.Context, t int32, res pool.Result) error {
	p, ok := e.cfg.Repository.(puller)
	if !ok || !e.dependents.none(t) {
		return nil
	}
	for name, d := range res.Outputs {
		if err := p.Pull(ctx, d); err != nil {
			return fmt.Errorf("task %q: output %q (%s): copying it to the driver: %w: %w",
				e.g.Flow.Tasks[t].Name, name, d, err, ebb.ErrUnavailable)
		}
	}
	return nil
}

// evacuate copies into the run's repository, before w's alloc is given
// back, the outputs of the tasks that succeeded there and that tasks not
// yet done still read. Once the run holds no alloc on its worker, the
// worker may stop and take them along, and the tasks that made them
// would run again. (The outputs of tasks found in the cache are in the
// repository already: see lookup.) Work calls it when w, drained, has
// nothing left to run, while it still holds the alloc. An output that
// cannot be copied stays on the worker: should the worker stop, its
// task runs again (see lostInputs). A repository that holds every blob
// itself has nothing to evacuate, nor has the primary alloc (see
// finish).
func (e *Eval) evacuate(ctx context.Context, w *worker) {
	p, ok := e.cfg.Repository.(puller)
	if !ok {
		return
	}
	type blob struct {
		task int32
		name string
		d    digest.Digest
	}
	var blobs []blob
	e.mu.Lock()
	for _, t := range w.made {
		if e.stillReadLocked(t) {
			for name, d := range e.tasks[t].outputs {
				blobs = append(blobs, blob{t, name, d})
			}
		}
	}
	e.mu.Unlock()
	copied := 0
	for _, b := range blobs {
		err := p.Pull(ctx, b.d)
		switch {
		case err == nil:
			copied++
		case ctx.Err() == nil:
			e.cfg.Logger.Warn("an output on a drained alloc could not be copied to the driver: its task runs again if its worker stops",
				"alloc", w.alloc.ID(), "task", e.g.Flow.Tasks[b.task].Name, "output", b.name, "err", err)
		}
	}
	if copied > 0 {
		e.cfg.Logger.Info("copied to the driver the outputs on a drained alloc that tasks to come read", "alloc", w.alloc.ID(), "outputs", copied)
	}
}

// stillReadLocked reports whether task t is done and a task not yet done
// reads its outputs. e.mu is held.
func (e *Eval) stillReadLocked(t int32) bool {
	if st := e.tasks[t].state; st != done && st != cached {
		return false
	}
	for _, c := range e.dependents.of(t) {
		switch e.tasks[c].state {
		case waiting, ready, running:
			return true
		}
	}
	return false
}
