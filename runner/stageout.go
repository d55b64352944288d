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
// asked for; an intermediate lost with its worker is made again (see
// Eval.inputsLost). A repository that holds every blob itself makes
// collect a no-op.
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
