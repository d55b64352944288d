package slurm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/pool/remote"
	"github.com/grailbio/base/data"
)

// Provider launches workers as Slurm batch jobs, which announce
// themselves to its bootstrap. See the package doc.
//
// A Provider is safe for concurrent use. Its mutex guards the table of
// workers, the sequence number and the closed flag, and is never held
// while a Slurm command runs. It runs one goroutine, the poller, from New
// until Close, besides its bootstrap's server. Make one with New, and
// Close it to cancel every job.
type Provider struct {
	cfg    Config
	cli    *cli
	boot   *bootstrap.Bootstrap
	dir    string
	ownDir bool
	nonce  string            // part of every job name, so providers sharing a prefix do not collide
	ours   *regexp.Regexp    // the names of this provider's jobs
	mine   *regexp.Regexp    // the names of every provider's jobs with this prefix
	never  map[string]string // shape name → why no node of the partition holds it

	closec   chan struct{} // closed when Close begins
	pollDone chan struct{} // closed when the poller has returned
	launches sync.WaitGroup

	// records keeps a WorkerRecord of every worker, in Dir/records, for
	// a provider made later with the same Dir and JobPrefix to adopt.
	records cluster.RecordDir

	mu      sync.Mutex
	workers map[cluster.WorkerID]*worker // submitted, up or terminated, until their job is seen to end
	adopted map[string]bool              // names of the jobs adopted from an earlier provider
	seq     int
	closed  bool

	closeOnce sync.Once
	closeErr  error
}

var _ cluster.Provider = (*Provider)(nil)

// New returns a provider of cfg, with the defaults filled in, whose
// bootstrap listens for its workers' announcements. It checks that Slurm
// answers (sinfo) and that the partition exists, and adopts the workers
// that an earlier provider with the same Dir and JobPrefix left (see
// adoptEarlier): their jobs' records, in Dir/records with mode 0600, say
// how to reach them, and its bootstrap listens where the earlier one did
// (bootstrap.Config.Keep, by default Dir/records/bootstrap.json). The
// jobs of this user's with the JobPrefix that cannot be adopted are
// cancelled, and New returns once they have ended. It fails with
// an error wrapping ebb.ErrInvalid, naming the field, when cfg is
// malformed or names no partition of the cluster, and with
// ebb.ErrUnavailable when Slurm does not answer.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Provider{
		cfg:      cfg,
		cli:      &cli{bin: cfg.Bin, timeout: cfg.CommandTimeout},
		dir:      cfg.Dir,
		never:    make(map[string]string),
		closec:   make(chan struct{}),
		pollDone: make(chan struct{}),
		workers:  make(map[cluster.WorkerID]*worker),
		adopted:  make(map[string]bool),
	}
	var b [4]byte
	rand.Read(b[:])
	p.nonce = hex.EncodeToString(b[:])
	prefix := regexp.QuoteMeta(cfg.JobPrefix)
	p.ours = regexp.MustCompile(`^` + prefix + p.nonce + `-[0-9]+$`)
	p.mine = regexp.MustCompile(`^` + prefix + `[0-9a-f]{8}-[0-9]+$`)

	if err := p.checkPartition(ctx); err != nil {
		return nil, err
	}
	if p.dir == "" {
		if p.dir, err = os.MkdirTemp("", "ebb-slurm-"); err != nil {
			return nil, fmt.Errorf("slurm: temporary Dir: %w", err)
		}
		p.ownDir = true
	} else {
		// The jobs run in it, from a directory of their own.
		if p.dir, err = filepath.Abs(p.dir); err != nil {
			return nil, fmt.Errorf("slurm: Config.Dir: %w", err)
		}
		if err := os.MkdirAll(p.dir, 0o755); err != nil {
			return nil, fmt.Errorf("slurm: Config.Dir: %w", err)
		}
	}
	p.records = cluster.RecordDir(filepath.Join(p.dir, "records"))
	boot := cfg.Bootstrap
	if boot.Keep == "" && !p.ownDir {
		boot.Keep = filepath.Join(p.dir, "records", "bootstrap.json")
	}
	earlier, err := p.earlier(ctx)
	if err != nil {
		if p.ownDir {
			os.RemoveAll(p.dir)
		}
		return nil, err
	}
	for _, e := range earlier {
		if e.rec.Up() {
			boot.Adopt = append(boot.Adopt, e.rec)
		}
	}
	if p.boot, err = bootstrap.New(boot); err != nil {
		if p.ownDir {
			os.RemoveAll(p.dir)
		}
		return nil, fmt.Errorf("slurm: %w", err)
	}
	if err := p.adoptEarlier(ctx, earlier); err != nil {
		p.boot.Close()
		if p.ownDir {
			os.RemoveAll(p.dir)
		}
		return nil, err
	}
	go p.poll()
	return p, nil
}

// checkPartition finds the partition the jobs go to, and the shapes none
// of its nodes can ever hold.
func (p *Provider) checkPartition(ctx context.Context) error {
	parts, err := p.cli.partitions(ctx)
	if err != nil {
		return fmt.Errorf("slurm: is a slurmctld answering? %w", err)
	}
	i := slices.IndexFunc(parts, func(pt partition) bool {
		if p.cfg.Partition == "" {
			return pt.Default
		}
		return pt.Name == p.cfg.Partition
	})
	if i < 0 {
		if p.cfg.Partition == "" {
			return fmt.Errorf("slurm: Config.Partition: empty, and the cluster has no default partition: %w", ebb.ErrInvalid)
		}
		return fmt.Errorf("slurm: Config.Partition %q: no such partition: %w", p.cfg.Partition, ebb.ErrInvalid)
	}
	part := parts[i]
	for _, s := range p.cfg.Shapes {
		r, _ := shapeRequest(s)
		if !part.holds(r.CPUs, r.MemMB) {
			p.never[s.Name] = fmt.Sprintf("no node of partition %s has %d cpus and %s of memory (its nodes: %v)", part.Name, r.CPUs, data.Size(r.MemMB)*data.MiB, part.Nodes)
			p.cfg.Logger.Warn("slurm: a shape fits no node of the partition", "shape", s.Name, "partition", part.Name)
		}
	}
	return nil
}

// ownJobs lists the jobs of this user's whose names match re.
func (p *Provider) ownJobs(ctx context.Context, re *regexp.Regexp) ([]job, error) {
	jobs, err := p.cli.jobs(ctx)
	if err != nil {
		return nil, err
	}
	uid := os.Getuid()
	return slices.DeleteFunc(jobs, func(j job) bool {
		return (j.UserID >= 0 && j.UserID != uid) || !re.MatchString(j.Name)
	}), nil
}

// Shapes returns the configured shapes, in fresh memory.
func (p *Provider) Shapes() []cluster.Shape { return cluster.CloneShapes(p.cfg.Shapes) }

// shape returns the configured shape of the given name.
func (p *Provider) shape(name string) (cluster.Shape, bool) {
	return cluster.FindShape(p.cfg.Shapes, name)
}

// Workers lists the workers that are up, in the order they were
// launched or adopted: those whose worker announced itself and whose job
// has not been seen to end, with those New adopted from an earlier
// provider.
func (p *Provider) Workers(ctx context.Context) ([]cluster.Worker, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	ws := make([]*worker, 0, len(p.workers))
	for _, w := range p.workers {
		if w.client != nil && w.stopBy.IsZero() && !w.gone() {
			ws = append(ws, w)
		}
	}
	p.mu.Unlock()
	slices.SortFunc(ws, func(a, b *worker) int { return a.seq - b.seq })
	out := make([]cluster.Worker, len(ws))
	for i, w := range ws {
		out[i] = w.worker()
	}
	return out, nil
}

// Close cancels every job of this provider's, makes the Launches in
// flight fail with ebb.ErrClosed (each cancels its own job), stops the
// poller and the bootstrap, and returns once squeue shows none of the
// jobs running or ending, or ctx is done (then with an error naming
// them). It removes Dir if New made it. A Launch during or after Close
// fails with ebb.ErrClosed. Close may be called more than once; later
// calls return what the first did.
func (p *Provider) Close(ctx context.Context) error {
	p.closeOnce.Do(func() { p.closeErr = p.close(ctx) })
	return p.closeErr
}

func (p *Provider) close(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	close(p.closec)
	var ids []jobID
	var clients []*remote.Client
	for _, w := range p.workers {
		if w.job != "" {
			ids = append(ids, w.job)
		}
		if w.client != nil {
			clients = append(clients, w.client)
		}
	}
	clear(p.workers)
	p.mu.Unlock()

	var errs []error
	if err := p.cli.cancel(ctx, ids...); err != nil {
		errs = append(errs, fmt.Errorf("slurm: close: %w", err))
	}
	p.launches.Wait()
	<-p.pollDone
	// Every job of ours, found by name: also one whose sbatch answered
	// after its Launch gave up on it.
	if err := p.awaitGone(ctx, nil); err != nil {
		errs = append(errs, fmt.Errorf("slurm: close: %w", err))
	} else if recs, _ := p.records.Load(); len(recs) > 0 {
		// Every job of ours has ended: their records are of no use.
		for _, rec := range recs {
			if p.isOurs(string(rec.ID)) {
				p.records.Remove(rec.ID)
			}
		}
	}
	for _, c := range clients {
		c.Close()
	}
	if err := p.boot.Close(); err != nil {
		errs = append(errs, fmt.Errorf("slurm: close: %w", err))
	}
	if p.ownDir {
		errs = append(errs, os.RemoveAll(p.dir))
	}
	return errors.Join(errs...)
}

// awaitGone polls squeue every PollInterval until none of the given jobs
// (nil: none of this provider's jobs, found by name) is running or
// ending, cancelling again those that are. It fails when ctx is done
// first, naming the jobs left, or when squeue fails.
func (p *Provider) awaitGone(ctx context.Context, ids []jobID) error {
	t := time.NewTicker(p.cfg.PollInterval)
	defer t.Stop()
	for {
		jobs, err := p.ownJobs(ctx, p.mine)
		if err != nil {
			return err
		}
		var left []jobID
		for _, j := range jobs {
			if !j.gone() && ((ids == nil && p.isOurs(j.Name)) || slices.Contains(ids, j.ID)) {
				left = append(left, j.ID)
			}
		}
		if len(left) == 0 {
			return nil
		}
		// Cancel them again: a job submitted just before its cancel
		// may have missed it.
		p.cli.cancel(ctx, left...)
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("jobs %v still in squeue: %w", left, ctx.Err())
		}
	}
}

// isOurs reports whether the job named name is one of this provider's:
// launched or adopted.
func (p *Provider) isOurs(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ours.MatchString(name) || p.adopted[name]
}

func (p *Provider) errClosed(op string) error {
	return fmt.Errorf("slurm: %s: provider closed: %w", op, ebb.ErrClosed)
}
