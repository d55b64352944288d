package slurm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/internal/tokenfile"
	"github.com/ebbflow/ebb/pool/remote"
)

// A worker is one batch job of the provider's and the worker it runs.
// Its first fields never change after Launch made it; the provider's
// mutex guards the rest.
type worker struct {
	id     cluster.WorkerID // also the job's name
	seq    int
	shape  cluster.Shape
	labels ebb.Labels
	exp    *bootstrap.Expected
	output string        // the job's output file
	seenc  chan struct{} // gets a value (without blocking) after each observation

	job    jobID          // "" until sbatch answered
	last   job            // what the poller last saw of the job
	client *remote.Client // set once the worker is up
	stopBy time.Time      // set by Terminate: when the poller cancels a job still running
}

// gone reports whether the worker is known to be gone: its job ended, it
// announced that it leaves, or it was forgotten.
func (w *worker) gone() bool {
	select {
	case <-w.exp.Gone():
		return true
	default:
		return false
	}
}

func (w *worker) worker() cluster.Worker {
	return cluster.Worker{ID: w.id, Shape: cluster.Shape{Name: w.shape.Name, Resources: w.shape.Resources.Clone(), Price: w.shape.Price}, Pool: w.client, Labels: w.labels.Clone()}
}

// Launch submits a batch job that runs a worker of the given shape, and
// returns once the worker announced itself to the provider's bootstrap
// and its pool answered. The job is named for the worker's ID, its
// comment holds the labels (k1=v1,k2=v2), and the worker's token reaches
// it in a file of Dir (mode 0600) that sbatch's environment names
// ($EBB_TOKEN_FILE) and the worker removes once read: never in its
// command line nor its environment.
//
// Launch fails, after cancelling the job and waiting (up to StopTimeout)
// for it to end: with ebb.ErrUnavailable when the job still pends after
// PendingTimeout, ends before its worker announced itself, or Slurm does
// not answer; with ebb.ErrResources when the shape fits no node of the
// partition, or Slurm says the job can never run; with ebb.ErrClosed when
// the provider is closed meanwhile; and with ctx's error when ctx is done
// first. An unknown shape fails with ebb.ErrInvalid.
func (p *Provider) Launch(ctx context.Context, shape cluster.Shape, labels ebb.Labels) (cluster.Worker, error) {
	sh, ok := p.shape(shape.Name)
	if !ok {
		return cluster.Worker{}, fmt.Errorf("slurm: launch: no shape %q: %w", shape.Name, ebb.ErrInvalid)
	}
	if err := labels.Validate(); err != nil {
		return cluster.Worker{}, fmt.Errorf("slurm: launch: %w", err)
	}
	if why := p.never[sh.Name]; why != "" {
		return cluster.Worker{}, fmt.Errorf("slurm: launch %s: %s: %w", sh.Name, why, ebb.ErrResources)
	}
	if err := ctx.Err(); err != nil {
		return cluster.Worker{}, fmt.Errorf("slurm: launch %s: %w", sh.Name, err)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return cluster.Worker{}, p.errClosed("launch")
	}
	p.seq++
	seq := p.seq
	p.launches.Add(1)
	p.mu.Unlock()
	defer p.launches.Done()

	id := cluster.WorkerID(fmt.Sprintf("%s%s-%d", p.cfg.JobPrefix, p.nonce, seq))
	exp, err := p.boot.Expect(id, sh)
	if err != nil {
		return cluster.Worker{}, fmt.Errorf("slurm: launch %s: %w", sh.Name, err)
	}
	w := &worker{
		id:     id,
		seq:    seq,
		shape:  sh,
		labels: labels.Clone(),
		exp:    exp,
		output: filepath.Join(p.dir, string(id)+".log"),
		seenc:  make(chan struct{}, 1),
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.boot.Forget(id)
		return cluster.Worker{}, p.errClosed("launch")
	}
	p.workers[id] = w
	p.mu.Unlock()

	// The record comes first, so that a driver that dies at any moment
	// after finds the job to adopt or cancel.
	err = p.records.Save(w.record())
	var c *remote.Client
	if err == nil {
		c, err = p.start(ctx, w)
	} else {
		err = fmt.Errorf("slurm: launch %s: %w: %w", sh.Name, err, ebb.ErrUnavailable)
	}
	if err == nil {
		err = p.up(w, c)
	}
	if err == nil {
		if err = p.records.Save(w.record()); err != nil {
			err = fmt.Errorf("slurm: launch %s: %w: %w", sh.Name, err, ebb.ErrUnavailable)
		}
	}
	if err != nil {
		p.abandon(ctx, w)
		if ctx.Err() != nil && !errors.Is(err, ebb.ErrResources) {
			err = fmt.Errorf("slurm: launch %s: %w", sh.Name, ctx.Err())
		}
		return cluster.Worker{}, err
	}
	p.mu.Lock()
	job := w.job
	p.mu.Unlock()
	p.cfg.Logger.Info("slurm: worker up", "worker", id, "job", job, "shape", sh.Name, "url", c.URL())
	return w.worker(), nil
}

// start submits w's job and waits for its worker to announce itself.
func (p *Provider) start(ctx context.Context, w *worker) (*remote.Client, error) {
	jid, err := p.submit(ctx, w)
	if err != nil {
		return nil, err
	}
	p.cfg.Logger.Info("slurm: job submitted", "worker", w.id, "job", jid, "shape", w.shape.Name)

	return w.exp.Await(ctx, bootstrap.Watch{
		Seen: w.seenc,
		Check: func() (bool, error) {
			p.mu.Lock()
			j := w.last
			p.mu.Unlock()
			if why := j.never(); why != "" {
				return false, fmt.Errorf("slurm: launch %s: job %s pends for %s, which waiting does not cure: %w", w.shape.Name, jid, why, ebb.ErrResources)
			}
			return !j.pending(), nil
		},
		PendingTimeout: p.cfg.PendingTimeout,
		Pending: func() error {
			if j, found := p.lookup(ctx, w.id); found && !j.pending() {
				return nil
			} else if found {
				return fmt.Errorf("slurm: launch %s: job %s still pending after %v (reason: %s): %w", w.shape.Name, jid, p.cfg.PendingTimeout, j.Reason, ebb.ErrUnavailable)
			}
			return fmt.Errorf("slurm: launch %s: job %s did not start within %v: %w", w.shape.Name, jid, p.cfg.PendingTimeout, ebb.ErrUnavailable)
		},
		Gone:   func(err error) error { return p.endedError(w, err) },
		Closed: p.closec,
		Stop:   func() error { return p.errClosed("launch") },
	})
}

// submit writes w's job script and submits it.
func (p *Provider) submit(ctx context.Context, w *worker) (jobID, error) {
	script, err := jobScript(string(w.id), w.exp.Argv)
	if err != nil {
		return "", fmt.Errorf("slurm: launch %s: %w", w.shape.Name, err)
	}
	path := filepath.Join(p.dir, string(w.id)+".sh")
	if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
		return "", fmt.Errorf("slurm: launch %s: writing the job script: %v: %w", w.shape.Name, err, ebb.ErrUnavailable)
	}
	// sbatch keeps a copy of the script: ours is done with once it answered.
	defer os.Remove(path)
	// The token travels in a file, which the worker removes once read,
	// and not in the job's environment: that would stay in the batch
	// shell's /proc/PID/environ (were it not to exec the worker) and in
	// what Slurm keeps of the job.
	if err := tokenfile.Write(p.tokenPath(w.id), w.exp.Token()); err != nil {
		return "", fmt.Errorf("slurm: launch %s: %v: %w", w.shape.Name, err, ebb.ErrUnavailable)
	}
	r, _ := shapeRequest(w.shape) // checked in New
	r.Name = string(w.id)
	r.Comment = w.labels.String()
	r.Partition = p.cfg.Partition
	r.Time = p.cfg.TimeLimit
	r.Dir = p.dir
	r.Output = w.output
	r.Script = path
	r.Extra = p.cfg.SbatchArgs
	r.Env = jobEnv(os.Environ(), tokenfile.Env(p.tokenPath(w.id)))
	jid, err := p.cli.submit(ctx, r)
	if err != nil {
		return "", fmt.Errorf("slurm: launch %s: %w", w.shape.Name, err)
	}
	p.mu.Lock()
	w.job = jid
	p.mu.Unlock()
	if err := p.records.Save(w.record()); err != nil {
		p.cfg.Logger.Warn("slurm: recording a worker's job", "worker", w.id, "job", jid, "err", err)
	}
	return jid, nil
}

// record is what a later provider needs to adopt w, or to cancel its job.
func (w *worker) record() cluster.WorkerRecord {
	rec := cluster.WorkerRecord{ID: w.id, Shape: w.shape, Labels: w.labels, Handle: string(w.job), Token: w.exp.Token()}
	if a, ok := w.exp.Announced(); ok {
		rec.URL, rec.Pin = a.URL, a.Pin
	}
	return rec
}

// jobEnv returns sbatch's environment, which the job inherits: this
// process's, without a token of its own, and the worker's (where its
// token is).
func jobEnv(environ, worker []string) []string {
	return append(tokenfile.Without(environ), worker...)
}

// tokenPath is where the worker id finds its token: DIR/ID.token, of
// mode 0600, which the worker removes once read (a job that never ran
// its worker leaves it to removeToken).
func (p *Provider) tokenPath(id cluster.WorkerID) string {
	return filepath.Join(p.dir, string(id)+".token")
}

// removeToken removes the token file of the worker id, if its worker has
// not.
func (p *Provider) removeToken(id cluster.WorkerID) {
	if err := os.Remove(p.tokenPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		p.cfg.Logger.Warn("slurm: removing a worker's token file", "worker", id, "err", err)
	}
}

// lookup finds the job of the worker named id with squeue.
func (p *Provider) lookup(ctx context.Context, id cluster.WorkerID) (job, bool) {
	jobs, err := p.ownJobs(ctx, p.mine)
	if err != nil {
		return job{}, false
	}
	for _, j := range jobs {
		if j.Name == string(id) && !j.gone() {
			return j, true
		}
	}
	return job{}, false
}

// endedError describes a worker that is gone before its launch was
// done: its job ended, as the poller saw it, with the end of its output.
func (p *Provider) endedError(w *worker, err error) error {
	p.mu.Lock()
	j := w.last
	p.mu.Unlock()
	msg := fmt.Sprintf("job %s", w.job)
	if len(j.States) > 0 {
		msg += " ended (" + j.state() + ")"
	}
	msg += " before its worker was up; its output is " + w.output
	if tail := tail(w.output, 3); tail != "" {
		msg += ", ending: " + tail
	}
	return fmt.Errorf("slurm: launch %s: %s: %w", w.shape.Name, msg, err)
}

// tail returns the last n lines of a file, joined by " | ", or "".
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const limit = 4096
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(0, st.Size()-limit)
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(buf)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// up records w's client, unless its job ended or the provider was closed
// meanwhile.
func (p *Provider) up(w *worker, c *remote.Client) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		c.Close()
		return p.errClosed("launch")
	case w.gone():
		c.Close()
		return fmt.Errorf("slurm: launch %s: job %s ended as its worker came up: %w", w.shape.Name, w.job, ebb.ErrUnavailable)
	}
	w.client = c
	return nil
}

// abandon cancels the job of a launch that failed, waits (up to
// StopTimeout) for it to end, and forgets the worker. A job whose sbatch
// was interrupted may exist without its ID known: it is found by name.
func (p *Provider) abandon(ctx context.Context, w *worker) {
	p.mu.Lock()
	if p.workers[w.id] == w {
		delete(p.workers, w.id)
	}
	jid := w.job
	p.mu.Unlock()
	p.boot.Forget(w.id)
	defer p.removeToken(w.id)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.StopTimeout)
	defer cancel()
	if jid == "" {
		j, found := p.lookup(ctx, w.id)
		if !found {
			p.records.Remove(w.id)
			return
		}
		jid = j.ID
	}
	if err := p.cli.cancel(ctx, jid); err != nil {
		p.cfg.Logger.Warn("slurm: cancelling the job of a failed launch", "worker", w.id, "job", jid, "err", err)
	}
	if err := p.awaitGone(ctx, []jobID{jid}); err != nil {
		p.cfg.Logger.Warn("slurm: the job of a failed launch did not end", "worker", w.id, "job", jid, "err", err)
		return
	}
	p.records.Remove(w.id)
}
