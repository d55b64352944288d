package procs

import (
	"context"
	"syscall"
	"time"

	"github.com/ebbflow/ebb/cluster"
)

// Terminate stops the worker with the given ID: it takes it out of
// Workers, sends it SIGTERM, on which the worker drains (its allocs are
// freed, their execs lost) and exits, and sends SIGKILL to its process
// group if it has not exited within Grace or once ctx is done. It returns
// once the process has exited and was reaped, its directory removed, and
// no process is left in its group (a worker that a wrapping Command
// started). Terminating a worker that is gone, or never was, returns nil.
func (p *Provider) Terminate(ctx context.Context, id cluster.WorkerID) error {
	p.mu.Lock()
	w := p.workers[id]
	delete(p.workers, id)
	p.mu.Unlock()
	if w == nil {
		return nil
	}
	// The client's idle connections are closed first: the worker's
	// server would otherwise wait a second on each before it closes
	// it (an HTTP/2 connection's graceful shutdown).
	p.mu.Lock()
	c := w.client
	p.mu.Unlock()
	if c != nil {
		c.Close()
	}
	// The whole group: a Command that wraps the worker in a shell
	// (without exec) would otherwise die of the signal alone, leaving
	// the worker it started running on.
	syscall.Kill(-w.pid, syscall.SIGTERM)
	t := time.NewTimer(p.cfg.Grace)
	defer t.Stop()
	select {
	case <-w.donec:
		// The process is gone, and a worker it started may still be
		// draining in its group.
		if p.waitGroupGone(ctx, t.C, w.pid) {
			return nil
		}
	case <-t.C:
		p.cfg.Logger.Warn("procs: worker did not stop within the grace period; killing it", "worker", id, "grace", p.cfg.Grace)
	case <-ctx.Done():
	}
	w.kill()
	<-w.donec
	return nil
}

// waitGroupGone polls, every PollInterval, until no process is left in
// the process group pgid, and reports whether that came before expired
// fired or ctx was done.
func (p *Provider) waitGroupGone(ctx context.Context, expired <-chan time.Time, pgid int) bool {
	tick := time.NewTicker(p.cfg.PollInterval)
	defer tick.Stop()
	for syscall.Kill(-pgid, 0) == nil {
		select {
		case <-ctx.Done():
			return false
		case <-expired:
			return false
		case <-tick.C:
		}
	}
	return true
}
