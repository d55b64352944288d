package slurm

import (
	"context"
	"fmt"
	"time"

	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
)

// Terminate stops the worker with the given ID and returns once Slurm
// took the signal: it sends SIGTERM to the worker alone (scancel --batch:
// the job script execs the worker, so the batch step is the worker), on
// which the worker drains (its allocs are freed, their running execs
// reported lost) and exits, ending its job. A job still running the
// worker's grace period (Bootstrap.Grace) later is cancelled by the
// poller, which kills whatever it runs. From Terminate on, Workers does
// not list the worker, and its client's calls on allocs fail with
// ebb.ErrExpired. Terminating a worker that is gone, or never was,
// returns nil. When Slurm does not answer, Terminate fails with an error
// wrapping ebb.ErrUnavailable and the worker stays listed, for the caller
// to try again.
func (p *Provider) Terminate(ctx context.Context, id cluster.WorkerID) error {
	p.mu.Lock()
	w := p.workers[id]
	var jid jobID
	if w != nil && w.stopBy.IsZero() {
		jid = w.job
	}
	p.mu.Unlock()
	if jid == "" {
		return nil
	}
	err := p.cli.signal(ctx, jid)
	if err != nil {
		// A job that is not running (it pends, or ends) takes no signal:
		// cancel it outright.
		if cerr := p.cli.cancel(ctx, jid); cerr != nil {
			return fmt.Errorf("slurm: terminate %s: %w", id, cerr)
		}
	}
	grace := p.cfg.Bootstrap.Grace
	if grace == 0 {
		grace = bootstrap.DefaultGrace
	}
	p.mu.Lock()
	w.stopBy = time.Now().Add(grace)
	p.mu.Unlock()
	// The worker is gone for its holders now, though its job may run a
	// while yet, and it may still announce that it leaves: the poller
	// forgets it once its job ended.
	w.exp.Lost()
	p.cfg.Logger.Info("slurm: worker terminated", "worker", id, "job", jid)
	return nil
}
