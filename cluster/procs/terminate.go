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
// once the process has exited and was reaped, and its directory removed. Terminating a worker that
// is gone, or never was, returns nil.
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
	syscall.Kill(w.pid, syscall.SIGTERM)
	t := time.NewTimer(p.cfg.Grace)
	defer t.Stop()
	select {
	case <-w.donec:
		return nil
	case <-t.C:
		p.cfg.Logger.Warn("procs: worker did not stop within the grace period; killing it", "worker", id, "grace", p.cfg.Grace)
	case <-ctx.Done():
	}
	w.kill()
	<-w.donec
	return nil
}
