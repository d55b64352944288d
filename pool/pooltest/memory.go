package pooltest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// PoolConfig configures a memory [Pool]. The zero value gives a pool named
// "memory" of one node with 4 cpu and 8 GiB of memory and one-minute leases.
type PoolConfig struct {
	// ID names the pool; default "memory". Give each pool of a test its
	// own ID when several are used together.
	ID string

	// Nodes are the resources of each node; default one node of 4 cpu and
	// 8 GiB mem. The pool makes at most one offer per node.
	Nodes []ebb.Resources

	// Lease is the lease an alloc gets when it is accepted; default one
	// minute.
	Lease time.Duration

	// MaxLease, when positive, caps the leases Keepalive grants. It must
	// not be below Lease. Zero grants whatever Keepalive asks for.
	MaxLease time.Duration

	// Run, when set, runs command execs (ExecConfig.Argv): the pool calls
	// it in a goroutine of its own with a context cancelled when the exec
	// is killed, and takes ExitCode, Error and Outputs from its result; it
	// fills Start, End, Killed, Resources, Stdout and Stderr itself. Run
	// must return soon after ctx is done. [Builtins] is a ready-made Run.
	// When Run is nil the pool runs only Func execs and Put refuses argv
	// with ebb.ErrInvalid.
	Run func(ctx context.Context, cfg pool.ExecConfig, env ebb.FuncEnv) pool.Result
}

// Pool is an in-memory [pool.Pool] with fault controls for tests (see
// faults.go: Kill, FailNext, SetDelay, Hold, Stats).
//
// Its allocs are leased on the time package's timers, so a test running in
// a testing/synctest bubble (with the pool made inside the bubble) sees
// leases lapse on the bubble's fake clock. Its execs run Go functions in
// goroutines; a Func must return when its context is done, or Free, Kill
// and Close wait for it forever. The pool has no file system: it stages no
// inputs, and a Func exec that names outputs fails, since nothing can
// report them; a Run hook may report outputs in its Result.
//
// A Pool is safe for concurrent use. One mutex guards the pool, its allocs
// and its execs; it is never held while user code (a Func, a Run hook) runs
// or while a call waits. Make one with NewPool and Close it when done.
type Pool struct {
	id       string
	lease    time.Duration
	maxLease time.Duration
	run      func(context.Context, pool.ExecConfig, ebb.FuncEnv) pool.Result
	capacity []ebb.Resources // per node; never written after NewPool

	mu      sync.Mutex
	nodes   []node            // free resources per node, by index
	allocs  map[string]*alloc // the live allocs, by ID
	seq     int               // numbers allocs and execs
	closed  bool
	faults  faults
	counted Stats // Calls is kept in faults.calls
}

var _ pool.Pool = (*Pool)(nil)

// node is what a node has free and the version of its offer, which grows
// every time what the node has free changes.
type node struct {
	free    ebb.Resources
	version int
}

// NewPool returns an empty memory pool. It panics, naming the field, when
// cfg is invalid (a node with invalid resources, a negative lease, MaxLease
// below Lease): that is a mistake in the test, not a condition to handle.
func NewPool(cfg PoolConfig) *Pool {
	if cfg.ID == "" {
		cfg.ID = "memory"
	}
	if len(cfg.Nodes) == 0 {
		cfg.Nodes = []ebb.Resources{{ebb.CPU: 4, ebb.Mem: 8 << 30}}
	}
	if cfg.Lease == 0 {
		cfg.Lease = time.Minute
	}
	switch {
	case cfg.Lease < 0:
		panic(fmt.Sprintf("pooltest.NewPool: PoolConfig.Lease %v is negative", cfg.Lease))
	case cfg.MaxLease < 0:
		panic(fmt.Sprintf("pooltest.NewPool: PoolConfig.MaxLease %v is negative", cfg.MaxLease))
	case cfg.MaxLease > 0 && cfg.MaxLease < cfg.Lease:
		panic(fmt.Sprintf("pooltest.NewPool: PoolConfig.MaxLease %v is below Lease %v", cfg.MaxLease, cfg.Lease))
	}
	p := &Pool{
		id:       cfg.ID,
		lease:    cfg.Lease,
		maxLease: cfg.MaxLease,
		run:      cfg.Run,
		allocs:   make(map[string]*alloc),
		faults:   newFaults(),
	}
	for i, r := range cfg.Nodes {
		if err := r.Validate(); err != nil {
			panic(fmt.Sprintf("pooltest.NewPool: PoolConfig.Nodes[%d]: %v", i, err))
		}
		p.capacity = append(p.capacity, r.Clone())
		p.nodes = append(p.nodes, node{free: r.Clone()})
	}
	return p
}

// ID returns the pool's ID.
func (p *Pool) ID() string { return p.id }

// Capacity returns a fresh copy of the resources of each node.
func (p *Pool) Capacity(ctx context.Context) ([]ebb.Resources, error) {
	if err := p.enter(ctx, OpCapacity); err != nil {
		return nil, err
	}
	if err := p.checkOpen(); err != nil {
		return nil, err
	}
	out := make([]ebb.Resources, len(p.capacity))
	for i, r := range p.capacity {
		out[i] = r.Clone()
	}
	return out, nil
}

// Offers returns one offer for every node with anything free, in node
// order. An offer stays acceptable until what its node has free changes.
func (p *Pool) Offers(ctx context.Context) ([]pool.Offer, error) {
	if err := p.enter(ctx, OpOffers); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, p.closedErr()
	}
	var offers []pool.Offer
	for i, n := range p.nodes {
		if n.free.IsZero() {
			continue
		}
		offers = append(offers, &offer{p: p, node: i, version: n.version, available: n.free.Clone()})
	}
	return offers, nil
}

// Alloc returns the live alloc with the given ID, or fails with
// ebb.ErrNotExist.
func (p *Pool) Alloc(ctx context.Context, id string) (pool.Alloc, error) {
	if err := p.enter(ctx, OpAlloc); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, p.closedErr()
	}
	a, ok := p.allocs[id]
	if !ok {
		return nil, fmt.Errorf("pooltest: pool %s: alloc %q: %w", p.id, id, ebb.ErrNotExist)
	}
	return a, nil
}

// Allocs returns the live allocs in the order they were made.
func (p *Pool) Allocs(ctx context.Context) ([]pool.Alloc, error) {
	if err := p.enter(ctx, OpAllocs); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, p.closedErr()
	}
	live := make([]*alloc, 0, len(p.allocs))
	for _, a := range p.allocs {
		live = append(live, a)
	}
	slices.SortFunc(live, func(a, b *alloc) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]pool.Alloc, len(live))
	for i, a := range live {
		out[i] = a
	}
	return out, nil
}

// Close frees every live alloc (killing its execs and waiting for them to
// return), opens every gate set by Hold, and makes later calls fail with
// ebb.ErrClosed; an alloc's methods fail with ebb.ErrExpired, which the
// error wraps as well. Close is idempotent and always returns nil.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.faults.openAll()
	var ended []endedAlloc
	for _, a := range p.allocs {
		ended = append(ended, p.endLocked(a, fmt.Errorf("pooltest: alloc %s: pool %s closed: %w (%w)", a.id, p.id, ebb.ErrExpired, ebb.ErrClosed)))
	}
	p.mu.Unlock()
	for _, e := range ended {
		p.release(e)
	}
	return nil
}

func (p *Pool) checkOpen() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return p.closedErr()
	}
	return nil
}

func (p *Pool) closedErr() error {
	return fmt.Errorf("pooltest: pool %s: %w", p.id, ebb.ErrClosed)
}

var _ pool.Offer = (*offer)(nil)

// offer is a snapshot of one node at one version.
type offer struct {
	p         *Pool
	node      int
	version   int
	available ebb.Resources // never written
}

func (o *offer) ID() string { return fmt.Sprintf("%s/node%d/v%d", o.p.id, o.node, o.version) }

func (o *offer) Available() ebb.Resources { return o.available.Clone() }

// Accept makes an alloc sized by pool.Grant, leased for PoolConfig.Lease.
func (o *offer) Accept(ctx context.Context, meta pool.AllocMeta) (pool.Alloc, error) {
	p := o.p
	if err := p.enter(ctx, OpAccept); err != nil {
		return nil, err
	}
	if err := meta.Validate(); err != nil {
		return nil, fmt.Errorf("pooltest: accept offer %s: %w", o.ID(), err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, p.closedErr()
	}
	n := &p.nodes[o.node]
	if n.version != o.version {
		return nil, fmt.Errorf("pooltest: accept offer %s: node%d is at v%d: %w", o.ID(), o.node, n.version, ebb.ErrOfferGone)
	}
	granted, ok := pool.Grant(n.free, meta.Want)
	if !ok {
		return nil, fmt.Errorf("pooltest: accept offer %s: want %v, available %v: %w", o.ID(), meta.Want.Min, n.free, ebb.ErrResources)
	}
	n.free = n.free.Sub(granted)
	n.version++
	p.seq++
	now := time.Now()
	a := &alloc{
		p:             p,
		id:            fmt.Sprintf("%s-alloc-%d", p.id, p.seq),
		seq:           p.seq,
		node:          o.node,
		res:           granted,
		meta:          copyMeta(meta),
		created:       now,
		lastKeepalive: now,
		expires:       now.Add(p.lease),
		execs:         make(map[pool.ExecID]*exec),
		released:      make(chan struct{}),
	}
	a.timer = time.AfterFunc(p.lease, a.expire)
	p.allocs[a.id] = a
	p.counted.Allocs++
	return a, nil
}

func copyMeta(m pool.AllocMeta) pool.AllocMeta {
	m.Want.Min = m.Want.Min.Clone()
	if m.Labels != nil {
		m.Labels = m.Labels.Clone()
	}
	return m
}
