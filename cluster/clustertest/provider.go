package clustertest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
)

// ProviderConfig configures a fake [Provider]. The zero value gives one
// shape, "small", of 4 cpu and 8 GiB at a price of 1, launched at once.
type ProviderConfig struct {
	// Shapes are what the provider launches; default one shape "small"
	// of 4 cpu and 8 GiB mem, at a price of 1 per minute.
	Shapes []cluster.Shape

	// LaunchTime is how long every Launch takes before the worker is up
	// (or the launch fails). It is a time.Timer, so in a testing/synctest
	// bubble it takes no real time.
	LaunchTime time.Duration

	// Lease is what the workers' memory pools grant at Accept; default
	// one minute (see pooltest.PoolConfig).
	Lease time.Duration

	// Run runs the workers' command execs; see pooltest.PoolConfig.Run.
	Run func(ctx context.Context, cfg pool.ExecConfig, env ebb.FuncEnv) pool.Result

	// Delays slow down the calls of the workers' pools, op by op (see
	// pooltest.Pool.SetDelay): a worker whose Accept takes as long as a
	// remote one's, say.
	Delays map[pooltest.Op]time.Duration
}

// Provider is a fake [cluster.Provider] whose workers are in-memory pools
// ([pooltest.Pool], one node of the shape's resources), for testing an
// Elastic cluster, or code that uses one, without an engine. Launches take
// ProviderConfig.LaunchTime, on the time package's timers, so a test in a
// testing/synctest bubble models minute-long launches exactly. Tests steer
// it with FailNext and Add, look inside with Stats and Pool, and count on
// it to keep the Provider contract: a cancelled Launch leaves nothing, and
// Terminate is idempotent.
//
// A Provider is safe for concurrent use; one mutex guards it, never held
// while a launch waits. Make one with NewProvider, and Close it when done
// (in a synctest bubble, before the bubble ends).
type Provider struct {
	shapes     []cluster.Shape // never written after NewProvider
	launchTime time.Duration
	lease      time.Duration
	run        func(context.Context, pool.ExecConfig, ebb.FuncEnv) pool.Result
	delays     map[pooltest.Op]time.Duration

	mu      sync.Mutex
	workers map[cluster.WorkerID]*fakeWorker
	fail    map[string][]error // by shape name, taken in order
	seq     int
	stats   ProviderStats
	changec chan struct{} // closed and replaced at every change of stats
}

type fakeWorker struct {
	w    cluster.Worker
	pool *pooltest.Pool
	seq  int
}

var _ cluster.Provider = (*Provider)(nil)

// ProviderStats counts what a fake [Provider] did.
type ProviderStats struct {
	// Launches counts the calls of Launch, whatever became of them.
	Launches int
	// Launched counts the launches that brought a worker up.
	Launched int
	// Failed counts the launches failed by FailNext or for an unknown
	// shape.
	Failed int
	// Cancelled counts the launches whose context ended first.
	Cancelled int
	// Terminated counts the workers terminated.
	Terminated int
	// Live is the number of workers that exist now.
	Live int
	// Shapes counts the workers launched, or added, of each shape.
	Shapes map[string]int
}

// NewProvider returns a fake provider. It panics when a shape is invalid
// (see cluster.Shape.Validate): that is a mistake in the test.
func NewProvider(cfg ProviderConfig) *Provider {
	if len(cfg.Shapes) == 0 {
		cfg.Shapes = []cluster.Shape{{Name: "small", Resources: ebb.Resources{ebb.CPU: 4, ebb.Mem: 8 << 30}, Price: 1}}
	}
	p := &Provider{
		launchTime: cfg.LaunchTime,
		lease:      cfg.Lease,
		run:        cfg.Run,
		delays:     maps.Clone(cfg.Delays),
		workers:    make(map[cluster.WorkerID]*fakeWorker),
		fail:       make(map[string][]error),
		stats:      ProviderStats{Shapes: make(map[string]int)},
		changec:    make(chan struct{}),
	}
	for i, s := range cfg.Shapes {
		if err := s.Validate(); err != nil {
			panic(fmt.Sprintf("clustertest.NewProvider: Shapes[%d]: %v", i, err))
		}
		s.Resources = s.Resources.Clone()
		p.shapes = append(p.shapes, s)
	}
	return p
}

// Shapes returns the configured shapes.
func (p *Provider) Shapes() []cluster.Shape {
	out := make([]cluster.Shape, len(p.shapes))
	for i, s := range p.shapes {
		out[i] = s
		out[i].Resources = s.Resources.Clone()
	}
	return out
}

func (p *Provider) shape(name string) (cluster.Shape, bool) {
	i := slices.IndexFunc(p.shapes, func(s cluster.Shape) bool { return s.Name == name })
	if i < 0 {
		return cluster.Shape{}, false
	}
	s := p.shapes[i]
	s.Resources = s.Resources.Clone()
	return s, true
}

// Launch waits LaunchTime, then fails with the error FailNext set for the
// shape, if any, or starts a worker: a memory pool named after the worker.
// It fails with ebb.ErrInvalid for an unknown shape, and with ctx's error,
// having started nothing, when ctx is done first.
func (p *Provider) Launch(ctx context.Context, shape cluster.Shape, labels ebb.Labels) (cluster.Worker, error) {
	p.mu.Lock()
	p.stats.Launches++
	p.changedLocked()
	var fail error
	if q := p.fail[shape.Name]; len(q) > 0 {
		fail, p.fail[shape.Name] = q[0], q[1:]
	}
	p.mu.Unlock()

	s, ok := p.shape(shape.Name)
	if !ok {
		p.count(func(st *ProviderStats) { st.Failed++ })
		return cluster.Worker{}, fmt.Errorf("clustertest: launch: unknown shape %q: %w", shape.Name, ebb.ErrInvalid)
	}
	if p.launchTime > 0 {
		t := time.NewTimer(p.launchTime)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	if err := ctx.Err(); err != nil {
		p.count(func(st *ProviderStats) { st.Cancelled++ })
		return cluster.Worker{}, fmt.Errorf("clustertest: launch %s: %w", s.Name, err)
	}
	if fail != nil {
		p.count(func(st *ProviderStats) { st.Failed++ })
		return cluster.Worker{}, fmt.Errorf("clustertest: launch %s: injected failure: %w", s.Name, fail)
	}
	return p.start(s, labels), nil
}

// start makes a worker of shape s.
func (p *Provider) start(s cluster.Shape, labels ebb.Labels) cluster.Worker {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	id := cluster.WorkerID(fmt.Sprintf("w%d", p.seq))
	mp := pooltest.NewPool(pooltest.PoolConfig{
		ID:    string(id),
		Nodes: []ebb.Resources{s.Resources},
		Lease: p.lease,
		Run:   p.run,
	})
	for op, d := range p.delays {
		mp.SetDelay(op, d)
	}
	w := cluster.Worker{ID: id, Shape: s, Pool: mp, Labels: labels.Clone()}
	p.workers[id] = &fakeWorker{w: w, pool: mp, seq: p.seq}
	p.stats.Launched++
	p.stats.Live++
	p.stats.Shapes[s.Name]++
	p.changedLocked()
	return cloneWorker(w)
}

func cloneWorker(w cluster.Worker) cluster.Worker {
	w.Shape.Resources = w.Shape.Resources.Clone()
	w.Labels = w.Labels.Clone()
	return w
}

// Workers lists the live workers in the order they started.
func (p *Provider) Workers(ctx context.Context) ([]cluster.Worker, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ws := make([]*fakeWorker, 0, len(p.workers))
	for _, w := range p.workers {
		ws = append(ws, w)
	}
	slices.SortFunc(ws, func(a, b *fakeWorker) int { return a.seq - b.seq })
	out := make([]cluster.Worker, len(ws))
	for i, w := range ws {
		out[i] = cloneWorker(w.w)
	}
	return out, nil
}

// Terminate closes the worker's pool, which frees its allocs, and forgets
// the worker. Terminating an unknown worker returns nil.
func (p *Provider) Terminate(ctx context.Context, id cluster.WorkerID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	w := p.workers[id]
	if w != nil {
		delete(p.workers, id)
		p.stats.Terminated++
		p.stats.Live--
		p.changedLocked()
	}
	p.mu.Unlock()
	if w != nil {
		w.pool.Close()
	}
	return nil
}

// Add starts a worker of the named shape at once, as if launched by an
// earlier process: Workers lists it, and an Elastic adopts it. It panics
// on an unknown shape.
func (p *Provider) Add(shape string) cluster.Worker {
	s, ok := p.shape(shape)
	if !ok {
		panic(fmt.Sprintf("clustertest.Provider.Add: unknown shape %q", shape))
	}
	return p.start(s, nil)
}

// FailNext makes the next launch of the named shape fail with an error
// wrapping err (ebb.ErrUnavailable, say, or ebb.ErrResources), after
// LaunchTime. Failures queue up, one per launch. It panics on a nil err.
func (p *Provider) FailNext(shape string, err error) {
	if err == nil {
		panic("clustertest.Provider.FailNext: nil error")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fail[shape] = append(p.fail[shape], err)
}

// Pool returns the memory pool of the live worker with the given ID, for
// its fault controls (Kill, FailNext, Hold), or nil.
func (p *Provider) Pool(id cluster.WorkerID) *pooltest.Pool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w := p.workers[id]; w != nil {
		return w.pool
	}
	return nil
}

// Stats returns what the provider did so far. The caller owns it.
func (p *Provider) Stats() ProviderStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.statsLocked()
}

func (p *Provider) statsLocked() ProviderStats {
	st := p.stats
	st.Shapes = make(map[string]int, len(p.stats.Shapes))
	for k, v := range p.stats.Shapes {
		st.Shapes[k] = v
	}
	return st
}

// WaitFor blocks until ok holds for the provider's Stats, or ctx is done,
// and returns the last Stats it saw. It lets a test on real time wait for
// a launch or a termination without sleeping.
func (p *Provider) WaitFor(ctx context.Context, ok func(ProviderStats) bool) (ProviderStats, error) {
	for {
		p.mu.Lock()
		st, c := p.statsLocked(), p.changec
		p.mu.Unlock()
		if ok(st) {
			return st, nil
		}
		select {
		case <-c:
		case <-ctx.Done():
			return st, ctx.Err()
		}
	}
}

// Close terminates every worker. It is idempotent and returns nil.
func (p *Provider) Close() error {
	p.mu.Lock()
	ws := make([]*fakeWorker, 0, len(p.workers))
	for id, w := range p.workers {
		ws = append(ws, w)
		delete(p.workers, id)
		p.stats.Terminated++
		p.stats.Live--
	}
	p.changedLocked()
	p.mu.Unlock()
	for _, w := range ws {
		w.pool.Close()
	}
	return nil
}

func (p *Provider) count(f func(*ProviderStats)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(&p.stats)
	p.changedLocked()
}

func (p *Provider) changedLocked() {
	close(p.changec)
	p.changec = make(chan struct{})
}
