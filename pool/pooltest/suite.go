package pooltest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

// Run checks that the pools cfg.New makes keep the [pool.Pool] contract,
// reporting every breach as a failure of a named subtest:
//
//	Capacity          nodes are listed, valid, and all on offer at first
//	Offers            offers shrink on Accept and grow back on Free
//	Accept/Grant      allocs are sized by pool.Grant; their Pool is the pool
//	Accept/Race       of 50 concurrent Accepts of one offer, one wins
//	Accept/Stale      an accepted offer is gone, and its ID with it
//	Accept/TooBig     a Min beyond the offer is ErrResources, takes nothing
//	Accept/Invalid    a malformed AllocMeta is ErrInvalid, takes nothing
//	Lease/Keepalive   a renewed alloc outlives its first lease
//	Lease/Expiry      a lapsed alloc is gone: execs killed, resources back
//	Free              Free kills execs and returns resources, once
//	Allocs            Pool.Alloc re-attaches, Allocs lists the live allocs
//	Put/Idempotent    a second Put of an ID returns the first exec
//	Put/Concurrent    concurrent Puts of an ID run it once
//	Put/Resources     an alloc never runs more than it holds
//	Put/Invalid       a malformed ExecConfig or ID is ErrInvalid, no panic
//	Execs             Exec, Execs and Remove
//	Inspect           Busy and Running follow the running execs
//	Results           success, failure, and Kill show in the Result
//
// The Lease subtests run in testing/synctest bubbles unless
// cfg.NoSynctest is set. Run must not itself be called in a bubble.
func Run(t *testing.T, cfg Config) {
	t.Helper()
	if cfg.New == nil {
		t.Fatal("pooltest.Run: Config.New is nil")
	}
	s := &suite{cfg.withDefaults()}
	t.Run("Capacity", s.testCapacity)
	t.Run("Offers", s.testOffers)
	t.Run("Accept", func(t *testing.T) {
		t.Run("Grant", s.testAcceptGrant)
		t.Run("Race", s.testAcceptRace)
		t.Run("Stale", s.testAcceptStale)
		t.Run("TooBig", s.testAcceptTooBig)
		t.Run("Invalid", s.testAcceptInvalid)
	})
	t.Run("Lease", func(t *testing.T) {
		t.Run("Keepalive", s.bubble(s.testKeepalive))
		t.Run("Expiry", s.bubble(s.testExpiry))
	})
	t.Run("Free", s.testFree)
	t.Run("Allocs", s.testAllocs)
	t.Run("Put", func(t *testing.T) {
		t.Run("Idempotent", s.testPutIdempotent)
		t.Run("Concurrent", s.testPutConcurrent)
		t.Run("Resources", s.testPutResources)
		t.Run("Invalid", s.testPutInvalid)
	})
	t.Run("Execs", s.testExecs)
	t.Run("Inspect", s.testInspect)
	t.Run("Results", s.testResults)
}

// suite holds the checks; each test method makes its own pool.
type suite struct {
	Config
}

// newPool makes a pool for the subtest t.
func (s *suite) newPool(t *testing.T) pool.Pool {
	t.Helper()
	p := s.New(t)
	if p == nil {
		t.Fatal("Config.New returned a nil pool")
	}
	return p
}

// ctx returns a context for a subtest on real time, bounded by Timeout.
func (s *suite) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), s.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// accept accepts o for want and arranges for the alloc to be freed when
// the subtest ends.
func (s *suite) accept(t *testing.T, ctx context.Context, o pool.Offer, meta pool.AllocMeta) pool.Alloc {
	t.Helper()
	a, err := o.Accept(ctx, meta)
	if err != nil {
		t.Fatalf("Accept(want %v) of offer %s (available %s): %v", meta.Want, o.ID(), show(o.Available()), err)
	}
	s.freeLater(t, a)
	return a
}

// freeLater frees a when the subtest ends, unless it is gone by then.
func (s *suite) freeLater(t *testing.T, a pool.Alloc) {
	t.Cleanup(func() {
		// t.Context is done by now; in a bubble this timeout is fake time.
		ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
		defer cancel()
		if err := a.Free(ctx); err != nil && !errors.Is(err, ebb.ErrExpired) {
			t.Errorf("cleanup: Free of alloc %s: %v", a.ID(), err)
		}
	})
}

// acceptPart accepts frac of the biggest offer of p.
func (s *suite) acceptPart(t *testing.T, ctx context.Context, p pool.Pool, frac float64) pool.Alloc {
	t.Helper()
	o := biggest(t, ctx, p)
	return s.accept(t, ctx, o, want(o.Available().Scale(frac), 0))
}

func want(min ebb.Resources, width int) pool.AllocMeta {
	return pool.AllocMeta{Want: ebb.Requirements{Min: min, Width: width}, Owner: "pooltest"}
}

// block, succeed and fail make the Config's execs holding res.
func (s *suite) block(res ebb.Resources) pool.ExecConfig {
	c := s.Block()
	c.Resources = res
	return c
}

func (s *suite) succeed(res ebb.Resources) pool.ExecConfig {
	c := s.Succeed()
	c.Resources = res
	return c
}

func (s *suite) fail(res ebb.Resources) pool.ExecConfig {
	c := s.Fail()
	c.Resources = res
	return c
}

// counting returns cfg with its Func, if it has one, counting its calls in
// n, and whether it does.
func counting(cfg pool.ExecConfig, n *atomic.Int64) (pool.ExecConfig, bool) {
	f := cfg.Func
	if f == nil {
		return cfg, false
	}
	cfg.Func = func(ctx context.Context, env ebb.FuncEnv) error {
		n.Add(1)
		return f(ctx, env)
	}
	return cfg, true
}

// execID names an exec of the suite.
func execID(name string) pool.ExecID { return digest.FromString("pooltest exec " + name) }

// put puts an exec and fails the subtest if it cannot.
func put(t *testing.T, ctx context.Context, a pool.Alloc, id pool.ExecID, cfg pool.ExecConfig) pool.Exec {
	t.Helper()
	e, err := a.Put(ctx, id, cfg)
	if err != nil {
		t.Fatalf("Put(%.19s…, argv %q, resources %s) in alloc %s (holding %s): %v", id, cfg.Argv, show(cfg.Resources), a.ID(), show(a.Resources()), err)
	}
	if e.ID() != id {
		t.Errorf("Put(%s) returned an exec with ID %s", id, e.ID())
	}
	return e
}

// mustWait waits for e and fails the subtest if there is no result.
func mustWait(t *testing.T, ctx context.Context, e pool.Exec) pool.Result {
	t.Helper()
	r, err := e.Wait(ctx)
	if err != nil {
		t.Fatalf("Wait of exec %.19s…: %v", e.ID(), err)
	}
	return r
}

// waited is what an exec's Wait returned.
type waited struct {
	res pool.Result
	err error
}

// waitAsync waits for e in a goroutine, which ends when Wait returns: at
// the latest when ctx is done.
func waitAsync(ctx context.Context, e pool.Exec) <-chan waited {
	c := make(chan waited, 1)
	go func() {
		r, err := e.Wait(ctx)
		c <- waited{r, err}
	}()
	return c
}

// checkKilled reports unless w is an error wrapping ebb.ErrExpired: what
// Wait returns for an exec that was running when its alloc ended.
func checkKilled(t *testing.T, w waited, when string) {
	t.Helper()
	if !errors.Is(w.err, ebb.ErrExpired) {
		t.Errorf("%s: Wait of the exec that was running = %s, %v; want an error wrapping ebb.ErrExpired (the alloc ended under it)", when, showResult(w.res), w.err)
	}
}

// protect calls f, turning a panic into an error, so that one bad call
// fails its subtest rather than the whole test binary.
func protect[T any](f func() (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return f()
}

// capacity returns the total capacity of p.
func capacity(t *testing.T, ctx context.Context, p pool.Pool) ebb.Resources {
	t.Helper()
	caps, err := p.Capacity(ctx)
	if err != nil {
		t.Fatalf("Capacity: %v", err)
	}
	var sum ebb.Resources
	for _, r := range caps {
		sum = sum.Add(r)
	}
	return sum
}

// offered returns the sum of what p offers.
func offered(t *testing.T, ctx context.Context, p pool.Pool) ebb.Resources {
	t.Helper()
	offers, err := p.Offers(ctx)
	if err != nil {
		t.Fatalf("Offers: %v", err)
	}
	var sum ebb.Resources
	for _, o := range offers {
		sum = sum.Add(o.Available())
	}
	return sum
}

// checkOffered reports unless p's offers add up to want.
func checkOffered(t *testing.T, ctx context.Context, p pool.Pool, want ebb.Resources, when string) {
	t.Helper()
	if got := offered(t, ctx, p); !same(got, want) {
		t.Errorf("%s: offers add up to %s, want %s (the capacity less what live allocs hold)", when, show(got), show(want))
	}
}

// biggest returns p's biggest offer.
func biggest(t *testing.T, ctx context.Context, p pool.Pool) pool.Offer {
	t.Helper()
	offers, err := p.Offers(ctx)
	if err != nil {
		t.Fatalf("Offers: %v", err)
	}
	if len(offers) == 0 {
		t.Fatal("Offers: none, want at least one offer from a pool with free resources")
	}
	return slices.MaxFunc(offers, func(a, b pool.Offer) int {
		sa, sb := a.Available().Size(), b.Available().Size()
		switch {
		case sa < sb:
			return -1
		case sa > sb:
			return 1
		}
		return 0
	})
}

// allocIDs lists the IDs of p's live allocs, sorted.
func allocIDs(t *testing.T, ctx context.Context, p pool.Pool) []string {
	t.Helper()
	allocs, err := p.Allocs(ctx)
	if err != nil {
		t.Fatalf("Allocs: %v", err)
	}
	ids := make([]string, len(allocs))
	for i, a := range allocs {
		ids[i] = a.ID()
	}
	slices.Sort(ids)
	return ids
}

// execIDs lists the IDs of a's execs, sorted.
func execIDs(t *testing.T, ctx context.Context, a pool.Alloc) []pool.ExecID {
	t.Helper()
	execs, err := a.Execs(ctx)
	if err != nil {
		t.Fatalf("Execs of alloc %s: %v", a.ID(), err)
	}
	ids := make([]pool.ExecID, len(execs))
	for i, e := range execs {
		ids[i] = e.ID()
	}
	slices.Sort(ids)
	return ids
}

func sortedIDs[T ~string](ids ...T) []T {
	return slices.Sorted(slices.Values(ids))
}

// same reports whether a and b are equal but for rounding.
func same(a, b ebb.Resources) bool { return a.Fits(b) && b.Fits(a) }

// show prints r exactly, as ParseResources reads it.
func show(r ebb.Resources) string {
	if r.IsZero() {
		return "{}"
	}
	return "{" + r.Format() + "}"
}

func showResult(r pool.Result) string {
	return fmt.Sprintf("{ExitCode: %d, Error: %q, Killed: %v}", r.ExitCode, r.Error, r.Killed)
}

// live reports unless a is alive: Inspect works, and the pool knows it.
func live(t *testing.T, ctx context.Context, p pool.Pool, a pool.Alloc, when string) {
	t.Helper()
	if _, err := a.Inspect(ctx); err != nil {
		t.Errorf("%s: Inspect of alloc %s: %v, want it alive", when, a.ID(), err)
	}
	if _, err := p.Alloc(ctx, a.ID()); err != nil {
		t.Errorf("%s: Pool.Alloc(%q): %v, want it alive", when, a.ID(), err)
	}
	if !slices.Contains(allocIDs(t, ctx, p), a.ID()) {
		t.Errorf("%s: Allocs does not list alloc %s, want it alive", when, a.ID())
	}
}

// checkPool reports unless a's Pool is p itself: the pool the caller got
// the alloc from, and not, for a pool that wraps another, the wrapped one,
// whose calls would bypass the wrapper. Pools whose type cannot be
// compared are compared by ID.
func checkPool(t *testing.T, a pool.Alloc, p pool.Pool, from string) {
	t.Helper()
	got := a.Pool()
	if got == nil {
		t.Errorf("alloc %s from %s: Pool() = nil, want the pool %q", a.ID(), from, p.ID())
		return
	}
	switch tp := reflect.TypeOf(got); {
	case tp != reflect.TypeOf(p):
		t.Errorf("alloc %s from %s: Pool() = a %v with ID %q, want the pool it came from, a %T with ID %q", a.ID(), from, tp, got.ID(), p, p.ID())
	case tp.Comparable() && got != p, !tp.Comparable() && got.ID() != p.ID():
		t.Errorf("alloc %s from %s: Pool() = another %v (ID %q), want the pool it came from (ID %q)", a.ID(), from, tp, got.ID(), p.ID())
	}
}

// gone reports unless a has ended: every method fails with ErrExpired,
// the pool no longer knows it, and a second Free changes nothing.
func (s *suite) gone(t *testing.T, ctx context.Context, p pool.Pool, a pool.Alloc, when string) {
	t.Helper()
	offeredBefore := offered(t, ctx, p)
	expired := func(call string, err error) {
		t.Helper()
		if !errors.Is(err, ebb.ErrExpired) {
			t.Errorf("%s: %s of alloc %s: %v, want an error wrapping ebb.ErrExpired", when, call, a.ID(), err)
		}
	}
	_, err := a.Inspect(ctx)
	expired("Inspect", err)
	_, err = a.Keepalive(ctx, time.Minute)
	expired("Keepalive", err)
	_, err = a.Put(ctx, execID("after the end"), s.succeed(nil))
	expired("Put", err)
	_, err = a.Execs(ctx)
	expired("Execs", err)
	expired("Free", a.Free(ctx))
	if _, err := p.Alloc(ctx, a.ID()); !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("%s: Pool.Alloc(%q): %v, want an error wrapping ebb.ErrNotExist", when, a.ID(), err)
	}
	if ids := allocIDs(t, ctx, p); slices.Contains(ids, a.ID()) {
		t.Errorf("%s: Allocs = %q, still listing alloc %s", when, ids, a.ID())
	}
	checkOffered(t, ctx, p, offeredBefore, when+", then a Free that must change nothing")
}
