package slurm

import (
	"context"
	"fmt"

	"github.com/ebbflow/ebb/cluster"
)

// adoptEarlier takes over the jobs of this user's that an earlier provider
// with the same JobPrefix left (a driver that died, and is resumed): each
// one whose record (in Dir/records) says where its worker serves, and
// whose worker answers there with the recorded token and pin, is held as
// if this provider had launched it. The other active jobs with the prefix
// are cancelled, and adoptEarlier returns once squeue shows them gone (or
// StopTimeout has passed, which it logs): their workers' execs are dead
// before their tasks start elsewhere. The records of jobs that ended are
// removed.
func (p *Provider) adoptEarlier(ctx context.Context) error {
	jobs, err := p.ownJobs(ctx, p.mine)
	if err != nil {
		return fmt.Errorf("slurm: listing the jobs of earlier drivers: %w", err)
	}
	recs, err := p.records.Load()
	if err != nil {
		p.cfg.Logger.Warn("slurm: reading the worker records", "err", err)
	}
	active := make(map[string]job)
	for _, j := range jobs {
		if !j.ended() {
			active[j.Name] = j
		}
	}
	for _, rec := range recs {
		j, ok := active[string(rec.ID)]
		if !ok {
			p.records.Remove(rec.ID)
			continue
		}
		if err := p.adoptJob(ctx, rec, j); err != nil {
			p.cfg.Logger.Warn("slurm: an earlier driver's worker cannot be adopted; cancelling its job", "worker", rec.ID, "job", j.ID, "err", err)
			continue
		}
		delete(active, string(rec.ID))
	}
	var cancel []jobID
	for _, j := range active {
		cancel = append(cancel, j.ID)
		p.cfg.Logger.Warn("slurm: cancelling the job of an earlier driver", "job", j.ID, "name", j.Name, "state", j.state())
	}
	if len(cancel) == 0 {
		return nil
	}
	if err := p.cli.cancel(ctx, cancel...); err != nil {
		return fmt.Errorf("slurm: cancelling the jobs of earlier drivers: %w", err)
	}
	sctx, stop := context.WithTimeout(ctx, p.cfg.StopTimeout)
	defer stop()
	if err := p.awaitGone(sctx, cancel); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.cfg.Logger.Warn("slurm: the jobs of an earlier driver did not end", "err", err)
	}
	for _, j := range active {
		p.records.Remove(cluster.WorkerID(j.Name))
	}
	return nil
}

// adoptJob connects to the worker of rec, whose job j runs, and holds it.
func (p *Provider) adoptJob(ctx context.Context, rec cluster.WorkerRecord, j job) error {
	if !rec.Up() {
		return fmt.Errorf("its record says not where it serves")
	}
	if sh, ok := p.shape(rec.Shape.Name); ok {
		rec.Shape = sh
	}
	exp, err := p.boot.Adopt(rec)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, p.cfg.CommandTimeout)
	c, err := exp.Wait(wctx)
	cancel()
	if err != nil {
		p.boot.Forget(rec.ID)
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	w := &worker{
		id: rec.ID, seq: p.seq, shape: rec.Shape, labels: rec.Labels.Clone(), exp: exp,
		output: p.dir + "/" + string(rec.ID) + ".log", seenc: make(chan struct{}, 1),
		job: j.ID, last: j, client: c,
	}
	p.workers[w.id] = w
	p.adopted[string(w.id)] = true
	p.cfg.Logger.Info("slurm: adopted an earlier driver's worker", "worker", w.id, "job", j.ID, "url", rec.URL)
	return nil
}

