package pooltest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// alloc is a memory pool's alloc. Its mutable fields are guarded by p.mu.
type alloc struct {
	p       *Pool
	id      string
	seq     int
	node    int
	res     ebb.Resources // never written
	meta    pool.AllocMeta
	created time.Time

	// Guarded by p.mu.
	lastKeepalive time.Time
	expires       time.Time
	timer         *time.Timer // fires expire at expires
	gone          error       // why the alloc ended; nil while it lives
	execs         map[pool.ExecID]*exec
	busy          ebb.Resources // sum of the running execs' resources
	running       int

	released chan struct{} // closed once the resources are back in the pool
}

var _ pool.Alloc = (*alloc)(nil)

// endedAlloc is an alloc that has ended but whose execs may still run and
// whose resources are not yet back: see release.
type endedAlloc struct {
	a       *alloc
	running []*exec
}

// endLocked ends a: from now on its methods fail with why, it is no longer
// listed, and its running execs are marked killed. The caller holds p.mu and
// must then call release, without the lock, to kill the execs and return
// the resources.
func (p *Pool) endLocked(a *alloc, why error) endedAlloc {
	a.gone = why
	a.timer.Stop()
	delete(p.allocs, a.id)
	var running []*exec
	for _, e := range a.execs {
		if e.result == nil {
			if e.killedBy == "" {
				e.killedBy = why.Error()
			}
			e.lost = fmt.Errorf("exec %.19s…: %w", e.id, why)
			running = append(running, e)
		}
	}
	return endedAlloc{a: a, running: running}
}

// release kills the ended alloc's execs, waits for them to return, then
// gives its resources back to its node.
func (p *Pool) release(e endedAlloc) {
	for _, x := range e.running {
		x.cancel()
	}
	for _, x := range e.running {
		<-x.done
	}
	p.mu.Lock()
	n := &p.nodes[e.a.node]
	n.free = n.free.Add(e.a.res)
	n.version++
	p.mu.Unlock()
	close(e.a.released)
}

// expire runs on the lease timer. A Keepalive may have moved the expiry
// since the timer was set; then it sets the timer again.
func (a *alloc) expire() {
	p := a.p
	p.mu.Lock()
	if a.gone != nil {
		p.mu.Unlock()
		return
	}
	if now := time.Now(); now.Before(a.expires) {
		a.timer.Reset(a.expires.Sub(now))
		p.mu.Unlock()
		return
	}
	ended := p.endLocked(a, fmt.Errorf("pooltest: alloc %s: lease lapsed at %v: %w", a.id, a.expires, ebb.ErrExpired))
	p.counted.Expiries++
	p.mu.Unlock()
	p.release(ended)
}

func (a *alloc) ID() string { return a.id }

func (a *alloc) Pool() pool.Pool { return a.p }

func (a *alloc) Resources() ebb.Resources { return a.res.Clone() }

func (a *alloc) Inspect(ctx context.Context) (pool.AllocInspect, error) {
	if err := ctx.Err(); err != nil {
		return pool.AllocInspect{}, err
	}
	p := a.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.gone != nil {
		return pool.AllocInspect{}, a.gone
	}
	return pool.AllocInspect{
		ID:            a.id,
		Pool:          p.id,
		Resources:     a.res.Clone(),
		Busy:          a.busy.Clone(),
		Running:       a.running,
		Meta:          copyMeta(a.meta),
		Created:       a.created,
		LastKeepalive: a.lastKeepalive,
		Expires:       a.expires,
	}, nil
}

// Keepalive sets the expiry to now plus lease, capped by MaxLease. A lease
// that is not positive fails with ebb.ErrInvalid.
func (a *alloc) Keepalive(ctx context.Context, lease time.Duration) (time.Duration, error) {
	p := a.p
	if err := p.enter(ctx, OpKeepalive); err != nil {
		return 0, err
	}
	if lease <= 0 {
		return 0, fmt.Errorf("pooltest: keepalive alloc %s: lease %v must be positive: %w", a.id, lease, ebb.ErrInvalid)
	}
	if p.maxLease > 0 {
		lease = min(lease, p.maxLease)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.gone != nil {
		return 0, a.gone
	}
	now := time.Now()
	a.lastKeepalive = now
	a.expires = now.Add(lease)
	a.timer.Reset(lease)
	return lease, nil
}

func (a *alloc) Free(ctx context.Context) error {
	p := a.p
	if err := p.enter(ctx, OpFree); err != nil {
		return err
	}
	p.mu.Lock()
	if a.gone != nil {
		p.mu.Unlock()
		return a.gone
	}
	ended := p.endLocked(a, fmt.Errorf("pooltest: alloc %s: freed: %w", a.id, ebb.ErrExpired))
	p.counted.Frees++
	p.mu.Unlock()
	// release runs on its own so that a Free whose ctx ends still gives
	// the resources back once the execs return.
	go p.release(ended)
	select {
	case <-a.released:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *alloc) Put(ctx context.Context, id pool.ExecID, cfg pool.ExecConfig) (pool.Exec, error) {
	p := a.p
	if err := p.enter(ctx, OpPut); err != nil {
		return nil, err
	}
	if err := id.Validate(); err != nil {
		return nil, fmt.Errorf("pooltest: put in alloc %s: exec id %q: %v: %w", a.id, id, err, ebb.ErrInvalid)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.gone != nil {
		return nil, a.gone
	}
	if e, ok := a.execs[id]; ok {
		return e, nil
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("pooltest: put %s in alloc %s: %w", id, a.id, err)
	}
	if cfg.Func == nil && p.run == nil {
		return nil, fmt.Errorf("pooltest: put %s in alloc %s: argv %q: this pool runs only Go-func execs (set PoolConfig.Run to run commands): %w", id, a.id, cfg.Argv, ebb.ErrInvalid)
	}
	if free := a.res.Sub(a.busy); !cfg.Resources.Fits(free) {
		return nil, fmt.Errorf("pooltest: put %s in alloc %s: exec needs %v, alloc has %v free of %v: %w", id, a.id, cfg.Resources, free, a.res, ebb.ErrResources)
	}
	p.seq++
	e := a.start(id, cfg, p.seq)
	a.execs[id] = e
	a.busy = a.busy.Add(e.res)
	a.running++
	p.counted.Execs++
	return e, nil
}

func (a *alloc) Exec(ctx context.Context, id pool.ExecID) (pool.Exec, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := a.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.gone != nil {
		return nil, a.gone
	}
	e, ok := a.execs[id]
	if !ok {
		return nil, fmt.Errorf("pooltest: alloc %s: exec %q: %w", a.id, id, ebb.ErrNotExist)
	}
	return e, nil
}

// Execs returns the alloc's execs in the order they were put.
func (a *alloc) Execs(ctx context.Context) ([]pool.Exec, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := a.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.gone != nil {
		return nil, a.gone
	}
	execs := make([]*exec, 0, len(a.execs))
	for _, e := range a.execs {
		execs = append(execs, e)
	}
	slices.SortFunc(execs, func(x, y *exec) int { return cmp.Compare(x.seq, y.seq) })
	out := make([]pool.Exec, len(execs))
	for i, e := range execs {
		out[i] = e
	}
	return out, nil
}

func (a *alloc) Remove(ctx context.Context, id pool.ExecID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := a.p
	p.mu.Lock()
	if a.gone != nil {
		p.mu.Unlock()
		return a.gone
	}
	e, ok := a.execs[id]
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("pooltest: alloc %s: remove exec %q: %w", a.id, id, ebb.ErrNotExist)
	}
	if err := e.kill(ctx, "removed"); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.execs[id] == e {
		delete(a.execs, id)
	}
	return nil
}
