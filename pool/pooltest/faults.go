package pooltest

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
)

// Op names a kind of call to a memory [Pool], for its fault controls and
// its [Stats].
type Op string

// The calls a memory pool counts and can fail, delay or hold.
const (
	OpCapacity  Op = "capacity"  // Pool.Capacity
	OpOffers    Op = "offers"    // Pool.Offers
	OpAlloc     Op = "alloc"     // Pool.Alloc
	OpAllocs    Op = "allocs"    // Pool.Allocs
	OpAccept    Op = "accept"    // Offer.Accept
	OpKeepalive Op = "keepalive" // Alloc.Keepalive
	OpFree      Op = "free"      // Alloc.Free
	OpPut       Op = "put"       // Alloc.Put
)

func (op Op) valid() bool {
	switch op {
	case OpCapacity, OpOffers, OpAlloc, OpAllocs, OpAccept, OpKeepalive, OpFree, OpPut:
		return true
	}
	return false
}

// Stats counts what happened in a memory pool since it was made.
type Stats struct {
	// Calls counts the calls of each kind, whether they succeeded or not.
	// The map is the caller's.
	Calls map[Op]int
	// Allocs counts the allocs accepted.
	Allocs int
	// Frees counts the allocs ended by Free.
	Frees int
	// Expiries counts the allocs whose lease lapsed.
	Expiries int
	// Kills counts the allocs lost through Pool.Kill.
	Kills int
	// Execs counts the execs started; a Put that returned a known exec
	// does not count.
	Execs int
}

// faults holds a pool's fault controls and call counts. It is guarded by
// the pool's mutex.
type faults struct {
	calls  map[Op]int
	fail   map[Op][]error // failures waiting for the next calls, in order
	delays map[Op]time.Duration
	gates  map[Op]*Gate
}

func newFaults() faults {
	return faults{
		calls:  make(map[Op]int),
		fail:   make(map[Op][]error),
		delays: make(map[Op]time.Duration),
		gates:  make(map[Op]*Gate),
	}
}

func (f *faults) openAll() {
	for _, g := range f.gates {
		g.Open()
	}
}

// enter is the first thing every counted call does: it counts the call,
// waits at op's gate and for op's delay, and returns the failure set for
// it, if any. The failure is taken when the call arrives, so FailNext
// fails the next call made even while earlier ones wait.
func (p *Pool) enter(ctx context.Context, op Op) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	p.faults.calls[op]++
	var fail error
	if q := p.faults.fail[op]; len(q) > 0 {
		fail = q[0]
		p.faults.fail[op] = q[1:]
	}
	gate := p.faults.gates[op]
	delay := p.faults.delays[op]
	p.mu.Unlock()

	if gate != nil {
		if err := gate.pass(ctx); err != nil {
			return err
		}
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail != nil {
		return fmt.Errorf("pooltest: pool %s: injected %s failure: %w", p.id, op, fail)
	}
	return nil
}

func mustOp(method string, op Op) {
	if !op.valid() {
		panic(fmt.Sprintf("pooltest.Pool.%s: unknown op %q", method, op))
	}
}

// FailNext makes the next call of op fail with an error wrapping err
// (ebb.ErrUnavailable, say), before it does anything. Calls queue up: two
// FailNext make the next two calls fail, in order. It panics on an unknown
// op or a nil err.
func (p *Pool) FailNext(op Op, err error) {
	mustOp("FailNext", op)
	if err == nil {
		panic("pooltest.Pool.FailNext: nil error")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults.fail[op] = append(p.faults.fail[op], err)
}

// SetDelay makes every later call of op wait d before it does anything, or
// until its context is done (then it fails with the context's error). The
// wait is a time.Timer, so in a testing/synctest bubble it takes no real
// time and a test can model a slow pool exactly. A d of 0 removes the delay.
// It panics on an unknown op.
func (p *Pool) SetDelay(op Op, d time.Duration) {
	mustOp("SetDelay", op)
	p.mu.Lock()
	defer p.mu.Unlock()
	if d <= 0 {
		delete(p.faults.delays, op)
		return
	}
	p.faults.delays[op] = d
}

// Hold makes every later call of op wait at the returned Gate until the
// test opens it or the call's context is done (then the call fails with the
// context's error). A test uses it to catch a call in flight: to cancel it,
// or to act while it waits. A second Hold of the same op replaces the gate
// for later calls; calls already waiting stay at the old one. Close opens
// every gate. It panics on an unknown op.
func (p *Pool) Hold(op Op) *Gate {
	mustOp("Hold", op)
	g := &Gate{openc: make(chan struct{}), arrivedc: make(chan struct{})}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults.gates[op] = g
	if p.closed {
		g.Open()
	}
	return g
}

// Kill loses the live alloc with the given ID as if its node had died: its
// execs are killed (their results say Killed) and every later call on it
// fails with ebb.ErrExpired, as after an expiry. Kill returns once the
// execs have returned and the alloc's resources are back in the pool. It
// fails with ebb.ErrNotExist when no such alloc lives.
func (p *Pool) Kill(allocID string) error {
	p.mu.Lock()
	a, ok := p.allocs[allocID]
	if !ok {
		p.mu.Unlock()
		return fmt.Errorf("pooltest: pool %s: kill alloc %q: %w", p.id, allocID, ebb.ErrNotExist)
	}
	ended := p.endLocked(a, fmt.Errorf("pooltest: alloc %s: lost (Pool.Kill): %w", a.id, ebb.ErrExpired))
	p.counted.Kills++
	p.mu.Unlock()
	p.release(ended)
	return nil
}

// Stats returns what happened in the pool so far.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.counted
	s.Calls = maps.Clone(p.faults.calls)
	return s
}

// A Gate holds calls until it is opened; see [Pool.Hold]. It is safe for
// concurrent use.
type Gate struct {
	openc chan struct{} // closed by Open

	mu       sync.Mutex
	opened   bool
	arrived  int
	arrivedc chan struct{} // closed and replaced at every arrival
}

// pass counts an arrival and waits for the gate to open or ctx to be done.
func (g *Gate) pass(ctx context.Context) error {
	g.mu.Lock()
	g.arrived++
	close(g.arrivedc)
	g.arrivedc = make(chan struct{})
	g.mu.Unlock()
	select {
	case <-g.openc:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Open lets every held call and every later one through. Opening an open
// gate does nothing.
func (g *Gate) Open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.opened {
		g.opened = true
		close(g.openc)
	}
}

// Arrived blocks until at least n calls have arrived at the gate since it
// was made (held, passed, or given up on their context), or ctx is done.
func (g *Gate) Arrived(ctx context.Context, n int) error {
	for {
		g.mu.Lock()
		if g.arrived >= n {
			g.mu.Unlock()
			return nil
		}
		c := g.arrivedc
		g.mu.Unlock()
		select {
		case <-c:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
