package stealer

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
)

// fakeEval is an Evaluator whose work the test sets by hand: the ready
// tasks (Ready), and what each working alloc runs (SetBusy). Like a real
// evaluation, its Demand is the ready work that the free capacity of its
// working, non-draining allocs cannot place. Work keeps the alloc's lease
// alive and returns when the evaluation is done (nil), ctx is (ctx's
// error), the alloc is drained and runs nothing (nil), or the alloc is lost.
type fakeEval struct {
	mu      sync.Mutex
	ready   []ebb.Demand
	workers map[string]*fakeWorker
	news    chan struct{} // closed and replaced on every change
	done    chan struct{}
	ended   bool
	works   []string // IDs of the allocs Work was called for
	drains  []string // IDs of the allocs drained
	taskDur time.Duration
}

type fakeWorker struct {
	alloc     pool.Alloc
	busy      ebb.Resources
	running   int
	idleSince time.Time
	draining  bool
}

func newFakeEval() *fakeEval {
	return &fakeEval{workers: map[string]*fakeWorker{}, news: make(chan struct{}), done: make(chan struct{})}
}

// changed wakes the workers. e.mu is held.
func (e *fakeEval) changed() {
	close(e.news)
	e.news = make(chan struct{})
}

// Ready sets the ready tasks.
func (e *fakeEval) Ready(d ...ebb.Demand) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ready = d
	e.changed()
}

// SetBusy says alloc id runs n tasks holding busy. It reports whether id
// works for the evaluation.
func (e *fakeEval) SetBusy(id string, n int, busy ebb.Resources) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.workers[id]
	if w == nil {
		return false
	}
	if n > 0 && w.running == 0 {
		w.idleSince = time.Time{}
	}
	if n == 0 && w.running > 0 {
		w.idleSince = time.Now()
	}
	w.running, w.busy = n, busy
	e.changed()
	return true
}

// Finish ends the evaluation.
func (e *fakeEval) Finish() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.ended {
		e.ended = true
		close(e.done)
		e.changed()
	}
}

func (e *fakeEval) Done() <-chan struct{} { return e.done }

func (e *fakeEval) Demand() []ebb.Demand {
	e.mu.Lock()
	defer e.mu.Unlock()
	var frees []ebb.Resources
	for _, w := range e.workers {
		if !w.draining {
			frees = append(frees, w.alloc.Resources().Sub(w.busy))
		}
	}
	rest, _ := place(groups(e.ready), frees)
	return demandOf(rest)
}

func (e *fakeEval) Load() []ebb.AllocLoad {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []ebb.AllocLoad
	for id, w := range e.workers {
		out = append(out, ebb.AllocLoad{
			ID: id, Resources: w.alloc.Resources(), Free: w.alloc.Resources().Sub(w.busy),
			Running: w.running, IdleSince: w.idleSince, Draining: w.draining,
		})
	}
	return out
}

func (e *fakeEval) Drain(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.workers[id]
	if w == nil {
		return false
	}
	w.draining = true
	e.drains = append(e.drains, id)
	e.changed()
	return true
}

func (e *fakeEval) Work(ctx context.Context, a pool.Alloc) error {
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel, below, which ends the keepalive
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	wg.Go(func() {
		if err := pool.Keepalive(ctx, a, pool.KeepaliveConfig{}); err != nil && ctx.Err() == nil {
			cancel(err)
		}
	})
	e.mu.Lock()
	e.works = append(e.works, a.ID())
	if e.ended {
		e.mu.Unlock()
		return nil
	}
	w := &fakeWorker{alloc: a, idleSince: time.Now()}
	e.workers[a.ID()] = w
	e.changed()
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.workers, a.ID())
		e.mu.Unlock()
	}()
	for {
		e.mu.Lock()
		switch {
		case e.ended:
			e.mu.Unlock()
			return nil
		case w.draining && w.running == 0:
			e.mu.Unlock()
			return nil
		}
		news := e.news
		e.mu.Unlock()
		select {
		case <-news:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

func (e *fakeEval) worked() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.works)
}

func (e *fakeEval) drained() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.drains)
}

// estimating is a fakeEval that knows its tasks' duration.
type estimating struct {
	*fakeEval
	d time.Duration
}

func (e estimating) TaskDuration() time.Duration { return e.d }

// heldEcho is an evaluator whose Critical says, in Packed, how many cpus
// it was asked to schedule on, a second each.
type heldEcho struct{ estimating }

func (e heldEcho) Critical(cpus float64) Critical {
	return Critical{Packed: time.Duration(cpus * float64(time.Second))}
}

// recorder collects a stealer's events and its OnAcquire and OnRelease
// calls.
type recorder struct {
	mu       sync.Mutex
	events   []Event
	acquired []string
	released []string
}

func (r *recorder) onEvent(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) onAcquire(ctx context.Context, a pool.Alloc) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.acquired = append(r.acquired, a.ID())
	return nil
}

func (r *recorder) onRelease(ctx context.Context, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.released = append(r.released, id)
}

// calls returns copies of the IDs given to OnAcquire and OnRelease.
func (r *recorder) calls() (acquired, released []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.acquired), slices.Clone(r.released)
}

// of returns the events of the given kind.
func (r *recorder) of(k EventKind) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, e := range r.events {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := ""
	for _, e := range r.events {
		s += fmt.Sprintf("  %s %-9s %s\n", e.Time.Format("15:04:05.000"), e.Kind, e.Reason)
	}
	return s
}

// config returns a stealer config over cluster c that reports to r.
func (r *recorder) config(c cluster.Cluster) Config {
	return Config{Cluster: c, OnEvent: r.onEvent, OnAcquire: r.onAcquire, OnRelease: r.onRelease}
}

func memPool(t *testing.T, nodes ...ebb.Resources) *pooltest.Pool {
	t.Helper()
	p := pooltest.NewPool(pooltest.PoolConfig{Nodes: nodes})
	t.Cleanup(func() { p.Close() })
	return p
}

// liveAllocs returns the IDs of p's live allocs.
func liveAllocs(t *testing.T, p pool.Pool) []string {
	t.Helper()
	allocs, err := p.Allocs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range allocs {
		ids = append(ids, a.ID())
	}
	return ids
}

// mustPolicy returns the default policy for cfg.
func mustPolicy(t *testing.T, cfg DefaultConfig) *Default {
	t.Helper()
	d, err := NewDefault(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// start runs s on ev in a goroutine; the returned channel gets Run's error.
func start(ctx context.Context, s *Stealer, ev Evaluator) <-chan error {
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx, ev) }()
	return errc
}

// advance moves the bubble's clock on by d and waits until every goroutine
// in it is blocked again.
func advance(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// runKeeping runs a Stealer on p for ev whose default policy keeps every
// alloc it is granted (the fake takes no tasks, so its allocs stay idle),
// and returns what it records and a func that ends the run.
func runKeeping(t *testing.T, p *pooltest.Pool, ev Evaluator) (*recorder, func()) {
	rec := new(recorder)
	cfg := rec.config(cluster.NewStatic(p))
	cfg.Policy = mustPolicy(t, DefaultConfig{IdleTimeout: time.Hour})
	s, _ := New(cfg)
	ctx, cancel := context.WithCancel(t.Context())
	errc := start(ctx, s, ev)
	return rec, func() {
		cancel()
		<-errc
	}
}

// A keeper is a policy that plans as p does and keeps the last snapshot
// it was given, for a test to read while the stealer runs.
type keeper struct {
	p    Policy
	mu   sync.Mutex
	snap Snapshot
}

func (k *keeper) Plan(s Snapshot) Plan {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.snap = s
	return k.p.Plan(s)
}

// last returns the last snapshot planned for.
func (k *keeper) last() Snapshot {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.snap
}
