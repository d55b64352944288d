package slurm

import (
	"context"
	"time"

	"github.com/ebbflow/ebb/pool/remote"
)

// poll lists the provider's jobs with squeue every PollInterval until
// Close begins, and tells each worker what became of its job (see
// observe). It skips the call while no job is submitted.
func (p *Provider) poll() {
	defer close(p.pollDone)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-p.closec:
			cancel()
		case <-ctx.Done():
		}
	}()
	t := time.NewTicker(p.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.pollOnce(ctx)
	}
}

// pollOnce lists the jobs once and observes each submitted worker's.
func (p *Provider) pollOnce(ctx context.Context) {
	p.mu.Lock()
	ws := make([]*worker, 0, len(p.workers))
	for _, w := range p.workers {
		if w.job != "" {
			ws = append(ws, w)
		}
	}
	p.mu.Unlock()
	if len(ws) == 0 {
		return
	}
	// Listed after every job in ws was submitted: a job missing from
	// the list is over (and older than the cluster's MinJobAge).
	jobs, err := p.ownJobs(ctx, p.mine)
	if err != nil {
		if ctx.Err() == nil {
			p.cfg.Logger.Warn("slurm: listing the jobs", "err", err)
		}
		return
	}
	byID := make(map[jobID]job, len(jobs))
	for _, j := range jobs {
		byID[j.ID] = j
	}
	var overdue []jobID
	now := time.Now()
	for _, w := range ws {
		if p.observe(w, byID) {
			continue
		}
		p.mu.Lock()
		if !w.stopBy.IsZero() && now.After(w.stopBy) {
			overdue = append(overdue, w.job)
		}
		p.mu.Unlock()
	}
	// Terminated workers that did not stop within their grace period.
	if err := p.cli.cancel(ctx, overdue...); err != nil && ctx.Err() == nil {
		p.cfg.Logger.Warn("slurm: cancelling the jobs of terminated workers", "jobs", overdue, "err", err)
	}
}

// observe records what squeue shows of w's job, wakes its Launch if one
// waits, and reports whether the job ended. A job that ended, or is
// missing, takes its worker with it: the worker is lost (its client's
// calls on allocs fail with ebb.ErrExpired from now on) and, if it was up
// or terminated, leaves the table.
func (p *Provider) observe(w *worker, byID map[jobID]job) bool {
	p.mu.Lock()
	j, listed := byID[w.job]
	if !listed {
		j = job{ID: w.job, Name: string(w.id), UserID: -1, States: []string{"NOT_IN_SQUEUE"}}
	}
	w.last = j
	ended := !listed || j.ended()
	var c *remote.Client
	terminated := !w.stopBy.IsZero()
	if ended && w.client != nil && p.workers[w.id] == w {
		delete(p.workers, w.id)
		c = w.client
	}
	p.mu.Unlock()
	select {
	case w.seenc <- struct{}{}:
	default:
	}
	if !ended {
		return false
	}
	w.exp.Lost()
	p.removeToken(w.id)
	if err := p.records.Remove(w.id); err != nil {
		p.cfg.Logger.Warn("slurm: removing a worker's record", "worker", w.id, "err", err)
	}
	p.mu.Lock()
	delete(p.adopted, string(w.id))
	p.mu.Unlock()
	if c != nil {
		p.boot.Forget(w.id)
		c.Close()
		if !terminated {
			p.cfg.Logger.Warn("slurm: worker lost: its job ended", "worker", w.id, "job", w.job, "state", j.state(), "output", w.output)
		}
	}
	return true
}
