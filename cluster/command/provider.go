package command

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/internal/tokenfile"
	"github.com/ebbflow/ebb/pool/remote"
)

// Provider starts, lists and stops workers with the user's commands. See
// the package doc.
//
// A Provider is safe for concurrent use. Its mutex guards the table of
// workers and the closed flag, and is never held while a command runs.
// It runs two goroutines of its own, its bootstrap's server and the
// checker running List, from New until Close.
type Provider struct {
	cfg   Config
	cmds  *commands
	boot  *bootstrap.Bootstrap
	nonce string

	// records keeps a WorkerRecord of each worker in Config.Dir; "" (no
	// Dir) keeps none.
	records cluster.RecordDir

	mu      sync.Mutex
	workers map[cluster.WorkerID]*worker // starting or up
	seq     int
	closed  bool

	stopCheck context.CancelFunc
	checkDone chan struct{}
}

// worker is one worker of the provider.
type worker struct {
	id     cluster.WorkerID
	shape  cluster.Shape
	labels ebb.Labels
	exp    *bootstrap.Expected
	handle string         // Start's first line of stdout
	client *remote.Client // nil while starting
}

var _ cluster.Provider = (*Provider)(nil)

// New returns a provider of cfg: it starts listening for announcements,
// adopts the workers an earlier provider of the same Dir left (see
// Config.Dir), stops the other workers an earlier driver left (unless
// Config.KeepOthers),
// and starts checking on its workers every CheckInterval. It fails with
// an error wrapping ebb.ErrInvalid, naming the field, when cfg is
// malformed, and with the List or Stop command's error when stopping the
// earlier workers failed.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	cfg, cmds, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var b [4]byte
	rand.Read(b[:])
	p := &Provider{cfg: cfg, cmds: cmds, nonce: hex.EncodeToString(b[:]), workers: make(map[cluster.WorkerID]*worker)}
	boot := cfg.Bootstrap
	if cfg.Dir != "" {
		p.records = cluster.RecordDir(cfg.Dir)
		if boot.Keep == "" {
			boot.Keep = filepath.Join(cfg.Dir, "bootstrap.json")
		}
	}
	if cfg.TokenDir != "" {
		if err := os.MkdirAll(cfg.TokenDir, 0o700); err != nil {
			return nil, fmt.Errorf("command: Config.TokenDir: %w", err)
		}
	}
	recs, listed, err := p.earlier(ctx)
	if err != nil {
		return nil, err
	}
	for _, rec := range recs {
		if rec.Up() && (listed == nil || listed[rec.ID]) {
			boot.Adopt = append(boot.Adopt, rec)
		}
	}
	if p.boot, err = bootstrap.New(boot); err != nil {
		return nil, fmt.Errorf("command: %w", err)
	}
	adopted, err := p.adoptOthers(ctx, recs, listed)
	if err == nil && !cfg.KeepOthers {
		err = p.stopOthers(ctx, adopted)
	}
	if err != nil {
		// The adopted workers are left running, for another try.
		p.mu.Lock()
		for _, w := range p.workers {
			w.client.Close()
		}
		p.mu.Unlock()
		p.boot.Close()
		return nil, err
	}
	checkCtx, stop := context.WithCancel(context.Background())
	p.stopCheck, p.checkDone = stop, make(chan struct{})
	go p.check(checkCtx)
	return p, nil
}

// Shapes returns the configured shapes.
func (p *Provider) Shapes() []cluster.Shape { return cluster.CloneShapes(p.cfg.Shapes) }

// Launch runs Start for a new worker of the shape and returns once the
// worker has announced itself and its pool answered. When Start fails,
// the worker does not announce itself within StartTimeout, or ctx is done
// first, Launch runs Stop for the worker and fails: with ebb.ErrUnavailable
// (Start's stderr in the message), or ctx's error. An unknown shape fails
// with ebb.ErrInvalid, MaxWorkers reached with ebb.ErrUnavailable, and a
// closed provider with ebb.ErrClosed.
func (p *Provider) Launch(ctx context.Context, shape cluster.Shape, labels ebb.Labels) (cluster.Worker, error) {
	sh, ok := cluster.FindShape(p.cfg.Shapes, shape.Name)
	if !ok {
		return cluster.Worker{}, fmt.Errorf("command: launch: no shape %q: %w", shape.Name, ebb.ErrInvalid)
	}
	if err := labels.Validate(); err != nil {
		return cluster.Worker{}, fmt.Errorf("command: launch: %w", err)
	}
	w, err := p.reserve(sh, labels)
	if err != nil {
		return cluster.Worker{}, err
	}
	// The record comes first, so that a driver that dies at any moment
	// after finds the worker to adopt or stop.
	err = p.save(w)
	var c *remote.Client
	if err == nil {
		c, err = p.start(ctx, w)
	}
	if err == nil {
		if err = p.up(w, c); err != nil {
			c.Close()
		}
	}
	if err == nil {
		if err = p.save(w); err != nil {
			c.Close()
		}
	}
	if err != nil {
		p.forget(w)
		// Stop whatever Start may have started, even when ctx is done.
		if serr := p.runStop(context.WithoutCancel(ctx), w); serr != nil {
			p.cfg.Logger.Warn("command: stopping a worker that did not come up", "worker", w.id, "err", serr)
		}
		return cluster.Worker{}, err
	}
	p.cfg.Logger.Info("command: worker up", "worker", w.id, "shape", sh.Name, "handle", w.handle, "url", w.client.URL())
	return w.worker(), nil
}

// reserve puts a new worker in the table, within MaxWorkers.
func (p *Provider) reserve(sh cluster.Shape, labels ebb.Labels) (*worker, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return nil, fmt.Errorf("command: launch: provider closed: %w", ebb.ErrClosed)
	case p.cfg.MaxWorkers > 0 && len(p.workers) >= p.cfg.MaxWorkers:
		return nil, fmt.Errorf("command: launch %s: %d workers, the most Config.MaxWorkers allows: %w", sh.Name, len(p.workers), ebb.ErrUnavailable)
	}
	p.seq++
	id := cluster.WorkerID(fmt.Sprintf("%s-%s-%d", p.cfg.Name, p.nonce, p.seq))
	exp, err := p.boot.Expect(id, sh)
	if err != nil {
		return nil, fmt.Errorf("command: launch %s: %w", sh.Name, err)
	}
	w := &worker{id: id, shape: sh, labels: labels.Clone(), exp: exp}
	p.workers[id] = w
	return w, nil
}

// start runs Start for w and waits for its announcement.
func (p *Provider) start(ctx context.Context, w *worker) (*remote.Client, error) {
	argv, err := p.cmds.start.render(p.data(w))
	if err != nil {
		return nil, err
	}
	if p.cfg.TokenDir != "" {
		if err := tokenfile.Write(p.tokenPath(w.id), w.exp.Token()); err != nil {
			return nil, fmt.Errorf("command: launch %s: %v: %w", w.shape.Name, err, ebb.ErrUnavailable)
		}
	}
	out, err := run(ctx, p.cfg.Timeout, argv, p.env(w))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("command: launch %s: %w", w.shape.Name, ctx.Err())
		}
		return nil, fmt.Errorf("command: launch %s: Start %w", w.shape.Name, err)
	}
	w.handle, _, _ = strings.Cut(strings.TrimSpace(out), "\n")
	w.handle = strings.TrimSpace(w.handle)
	if err := p.save(w); err != nil {
		p.cfg.Logger.Warn("command: recording a worker's handle", "worker", w.id, "err", err)
	}
	wctx, cancel := context.WithTimeout(ctx, p.cfg.StartTimeout)
	defer cancel()
	c, err := w.exp.Wait(wctx)
	switch {
	case err == nil:
		return c, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("command: launch %s: %w", w.shape.Name, ctx.Err())
	case wctx.Err() != nil:
		return nil, fmt.Errorf("command: launch %s: worker %s did not announce itself within %v: %w", w.shape.Name, w.id, p.cfg.StartTimeout, ebb.ErrUnavailable)
	}
	return nil, fmt.Errorf("command: launch %s: %w", w.shape.Name, err)
}

// up marks w up with its client, unless the provider was closed or w lost
// meanwhile.
func (p *Provider) up(w *worker, c *remote.Client) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("command: launch: provider closed: %w", ebb.ErrClosed)
	}
	select {
	case <-w.exp.Gone():
		return fmt.Errorf("command: launch %s: worker %s left as it came up: %w", w.shape.Name, w.id, ebb.ErrUnavailable)
	default:
	}
	w.client = c
	return nil
}

// Workers lists this provider's workers that are up.
func (p *Provider) Workers(ctx context.Context) ([]cluster.Worker, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("command: workers: provider closed: %w", ebb.ErrClosed)
	}
	var out []cluster.Worker
	for _, id := range slices.Sorted(maps.Keys(p.workers)) {
		if w := p.workers[id]; w.client != nil {
			out = append(out, w.worker())
		}
	}
	return out, nil
}

// Terminate runs Stop for the worker with the given ID and forgets it;
// its allocs are lost. An unknown ID is nil. When Stop fails, the worker
// stays known, and Terminate fails with ebb.ErrUnavailable.
func (p *Provider) Terminate(ctx context.Context, id cluster.WorkerID) error {
	p.mu.Lock()
	w := p.workers[id]
	up := w != nil && w.client != nil
	p.mu.Unlock()
	if !up {
		return nil // unknown, or starting: its Launch stops it
	}
	if err := p.runStop(ctx, w); err != nil {
		return fmt.Errorf("command: terminate %s: %w", id, err)
	}
	p.forget(w)
	w.client.Close()
	p.cfg.Logger.Info("command: worker stopped", "worker", id)
	return nil
}

// Close stops every worker that is up with Stop, stops checking, and
// stops listening for announcements. A Launch still in flight then fails
// with ebb.ErrClosed or ebb.ErrUnavailable and stops its worker itself.
// Close returns the Stops that failed, joined; closing again returns nil.
func (p *Provider) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	var up []*worker
	for _, w := range p.workers {
		if w.client != nil {
			up = append(up, w)
		}
	}
	p.mu.Unlock()
	p.stopCheck()
	<-p.checkDone
	var errs []error
	for _, w := range up {
		if err := p.runStop(ctx, w); err != nil {
			errs = append(errs, fmt.Errorf("command: stopping %s: %w", w.id, err))
		}
		p.forget(w)
		w.client.Close()
	}
	return errors.Join(append(errs, p.boot.Close())...)
}

// runStop runs Stop for w.
func (p *Provider) runStop(ctx context.Context, w *worker) error {
	argv, err := p.cmds.stop.render(p.data(w))
	if err == nil {
		_, err = run(ctx, p.cfg.Timeout, argv, p.env(w))
	}
	if err != nil {
		return fmt.Errorf("Stop %w", err)
	}
	return nil
}

// forget removes w from the table and from the bootstrap.
func (p *Provider) forget(w *worker) {
	p.mu.Lock()
	if p.workers[w.id] == w {
		delete(p.workers, w.id)
	}
	p.mu.Unlock()
	p.boot.Forget(w.id)
	if p.cfg.TokenDir != "" {
		// The worker removed it as it started, unless it never did.
		if err := os.Remove(p.tokenPath(w.id)); err != nil && !errors.Is(err, os.ErrNotExist) {
			p.cfg.Logger.Warn("command: removing a worker's token file", "worker", w.id, "err", err)
		}
	}
	if p.records != "" {
		if err := p.records.Remove(w.id); err != nil {
			p.cfg.Logger.Warn("command: removing a worker's record", "worker", w.id, "err", err)
		}
	}
}

func (p *Provider) data(w *worker) data {
	return newData(string(w.id), w.handle, w.shape, w.labels, w.exp.Argv)
}

// env is what the environment of w's Start and Stop adds: its ID, and
// its token or where to find it (Config.TokenDir).
func (p *Provider) env(w *worker) []string {
	env := w.exp.Env
	if p.cfg.TokenDir != "" {
		env = tokenfile.Env(p.tokenPath(w.id))
	}
	return append(env[:len(env):len(env)], "EBB_WORKER_ID="+string(w.id))
}

// tokenPath is the token file of the worker id, with Config.TokenDir.
func (p *Provider) tokenPath(id cluster.WorkerID) string {
	return filepath.Join(p.cfg.TokenDir, string(id)+".token")
}

func (w *worker) worker() cluster.Worker {
	return cluster.Worker{ID: w.id, Shape: w.shape, Pool: w.client, Labels: w.labels.Clone()}
}

// check runs List every CheckInterval until ctx is done, and loses the up
// workers missing from what it prints.
func (p *Provider) check(ctx context.Context) {
	defer close(p.checkDone)
	if len(p.cmds.list.args) == 0 {
		return
	}
	t := time.NewTicker(p.cfg.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Only a worker up before List ran can be missing from what it
		// printed: one that came up meanwhile may have started after.
		p.mu.Lock()
		var up []*worker
		for _, w := range p.workers {
			if w.client != nil {
				up = append(up, w)
			}
		}
		p.mu.Unlock()
		if len(up) == 0 {
			continue
		}
		listed, err := p.list(ctx)
		if err != nil {
			if ctx.Err() == nil {
				p.cfg.Logger.Warn("command: listing the workers failed", "err", err)
			}
			continue
		}
		var lost []*worker
		for _, w := range up {
			if !listed[w.id] {
				lost = append(lost, w)
			}
		}
		for _, w := range lost {
			p.cfg.Logger.Warn("command: worker gone: List no longer shows it", "worker", w.id)
			p.forget(w) // out of the table first, then its allocs lost
			w.client.Close()
		}
	}
}

// list runs List and returns the IDs it printed, the first word of each
// line.
func (p *Provider) list(ctx context.Context) (map[cluster.WorkerID]bool, error) {
	argv, err := p.cmds.list.render(newData("", "", cluster.Shape{}, nil, nil))
	if err != nil {
		return nil, err
	}
	out, err := run(ctx, p.cfg.Timeout, argv, nil)
	if err != nil {
		return nil, fmt.Errorf("List %w", err)
	}
	ids := make(map[cluster.WorkerID]bool)
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) > 0 {
			ids[cluster.WorkerID(f[0])] = true
		}
	}
	return ids, nil
}

// stopOthers stops the workers List shows with Name's prefix, but for
// those adopted: an earlier driver's, since this provider has none yet.
func (p *Provider) stopOthers(ctx context.Context, adopted map[cluster.WorkerID]bool) error {
	if len(p.cmds.list.args) == 0 {
		return nil
	}
	listed, err := p.list(ctx)
	if err != nil {
		return fmt.Errorf("command: finding an earlier driver's workers: %w", err)
	}
	for _, id := range slices.Sorted(maps.Keys(listed)) {
		if !strings.HasPrefix(string(id), p.cfg.Name+"-") || adopted[id] {
			continue
		}
		// Its handle died with the earlier driver: Stop gets the ID alone.
		argv, err := p.cmds.stop.render(newData(string(id), "", cluster.Shape{}, nil, nil))
		if err == nil {
			_, err = run(ctx, p.cfg.Timeout, argv, []string{"EBB_WORKER_ID=" + string(id)})
		}
		if err != nil {
			return fmt.Errorf("command: stopping %s, an earlier driver's worker: Stop %w", id, err)
		}
		p.cfg.Logger.Info("command: stopped an earlier driver's worker", "worker", id)
	}
	return nil
}
