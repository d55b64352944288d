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
func (p *Provider) adoptEarlier(ctx context.Context, earlier []earlierJob) error {
	active := make(map[string]job)
	for _, e := range earlier {
		if e.job.ID == "" {
			p.records.Remove(e.rec.ID)
			continue
		}
		if e.rec.ID == "" {
			active[e.job.Name] = e.job
			continue
		}
		if err := p.adoptJob(ctx, e.rec, e.job); err != nil {
			p.cfg.Logger.Warn("slurm: an earlier driver's worker cannot be adopted; cancelling its job", "worker", e.rec.ID, "job", e.job.ID, "err", err)
			active[e.job.Name] = e.job
		}
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
		p.removeToken(cluster.WorkerID(j.Name))
	}
	return nil
}

// An earlierJob is an active job of an earlier provider's, or a record of
// one, or both.
type earlierJob struct {
	job job                  // ID "" when the job is not active
	rec cluster.WorkerRecord // ID "" when it has no record
}

// earlier lists the active jobs of this user's with the JobPrefix and the
// records in Dir/records, matched by name.
func (p *Provider) earlier(ctx context.Context) ([]earlierJob, error) {
	jobs, err := p.ownJobs(ctx, p.mine)
	if err != nil {
		return nil, fmt.Errorf("slurm: listing the jobs of earlier drivers: %w", err)
	}
	recs, err := p.records.Load()
	if err != nil {
		p.cfg.Logger.Warn("slurm: reading the worker records", "err", err)
	}
	var out []earlierJob
	seen := make(map[string]bool)
	for _, rec := range recs {
		e := earlierJob{rec: rec}
		for _, j := range jobs {
			if j.Name == string(rec.ID) && !j.ended() {
				e.job = j
			}
		}
		seen[string(rec.ID)] = true
		out = append(out, e)
	}
	for _, j := range jobs {
		if !j.ended() && !seen[j.Name] {
			out = append(out, earlierJob{job: j})
		}
	}
	return out, nil
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
