package pooltest

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb/pool"
)

// bubble runs f in a testing/synctest bubble, with a pool made inside it.
func (s *suite) bubble(f func(t *testing.T, p pool.Pool)) func(*testing.T) {
	return func(t *testing.T) {
		if s.NoSynctest {
			t.Skip("Config.NoSynctest is set: the lease subtests need a pool that runs in a testing/synctest bubble")
		}
		synctest.Test(t, func(t *testing.T) { f(t, s.newPool(t)) })
	}
}

// advance moves the bubble's fake clock on by d, then waits until every
// goroutine in the bubble is blocked, so that whatever the pool does at
// that time (a lease lapsing) is done. It takes no real time.
func advance(d time.Duration) {
	if d > 0 {
		time.Sleep(d) // fake time: only ever called inside a bubble
	}
	synctest.Wait()
}

// lease returns the lease a got at Accept: Config.Lease, or what Inspect
// says.
func (s *suite) lease(t *testing.T, ctx context.Context, a pool.Alloc) time.Duration {
	t.Helper()
	in, err := a.Inspect(ctx)
	if err != nil {
		t.Fatalf("Inspect of alloc %s: %v", a.ID(), err)
	}
	if s.Lease > 0 {
		if left := in.Expires.Sub(time.Now()); left < s.Lease-s.slack(s.Lease) {
			t.Errorf("Inspect of alloc %s just accepted: Expires is %v from now, want Config.Lease %v", a.ID(), left, s.Lease)
		}
		return s.Lease
	}
	d := in.Expires.Sub(in.Created)
	if d <= 0 {
		t.Fatalf("Inspect of alloc %s: Expires %v is not after Created %v, so the lease is unknown; set Config.Lease", a.ID(), in.Expires, in.Created)
	}
	return d
}

func (s *suite) slack(lease time.Duration) time.Duration {
	if s.Slack > 0 {
		return s.Slack
	}
	return lease / 10
}

func (s *suite) testKeepalive(t *testing.T, p pool.Pool) {
	ctx := t.Context()
	a := s.acceptPart(t, ctx, p, 0.5)
	lease := s.lease(t, ctx, a)
	eps := s.slack(lease)

	advance(lease - eps)
	live(t, ctx, p, a, "at lease−ε after Accept (lease "+lease.String()+", ε "+eps.String()+")")
	renewed := time.Now()
	granted, err := a.Keepalive(ctx, lease)
	if err != nil {
		t.Fatalf("Keepalive(%v) at lease−ε: %v", lease, err)
	}
	if granted <= 0 || granted > lease {
		t.Errorf("Keepalive(%v) granted %v, want a lease in (0, %v]", lease, granted, lease)
	}
	in, err := a.Inspect(ctx)
	if err != nil {
		t.Fatalf("Inspect after Keepalive: %v", err)
	}
	if end := renewed.Add(granted); in.Expires.Before(end.Add(-eps)) {
		t.Errorf("Inspect after Keepalive granted %v: Expires = %v, want about %v", granted, in.Expires, end)
	}
	if granted > 2*eps {
		advance(2 * eps)
		live(t, ctx, p, a, "at lease+ε after a Keepalive at lease−ε that granted "+granted.String())
	}
	advance(time.Until(renewed.Add(granted - eps)))
	live(t, ctx, p, a, "at ε before the renewed lease of "+granted.String()+" lapses")
	advance(2 * eps)
	s.gone(t, ctx, p, a, "at ε after the renewed lease of "+granted.String()+" lapsed")
}

func (s *suite) testExpiry(t *testing.T, p pool.Pool) {
	ctx := t.Context()
	total := capacity(t, ctx, p)
	a := s.acceptPart(t, ctx, p, 0.5)
	lease := s.lease(t, ctx, a)
	eps := s.slack(lease)
	e := put(t, ctx, a, execID("blocked until expiry"), s.block(a.Resources().Scale(0.5)))
	waitc := waitAsync(ctx, e)

	advance(lease - eps)
	live(t, ctx, p, a, "at lease−ε without a Keepalive (lease "+lease.String()+", ε "+eps.String()+")")
	select {
	case w := <-waitc:
		t.Errorf("at lease−ε, the running exec's Wait returned %s, %v; want it still running", showResult(w.res), w.err)
	default:
	}

	advance(2 * eps)
	when := "at lease+ε without a Keepalive"
	select {
	case w := <-waitc:
		checkKilled(t, w, when)
	default:
		t.Errorf("%s: the running exec's Wait has not returned; want it killed with its alloc", when)
	}
	checkOffered(t, ctx, p, total, when)
	s.gone(t, ctx, p, a, when)
}
