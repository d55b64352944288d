package tracing_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
)

func TestAllocateSpan(t *testing.T) {
	tel := newTelemetry(t)
	c, _ := newCluster(t, tel.config(), pooltest.PoolConfig{
		ID:    "mem",
		Nodes: []ebb.Resources{{ebb.CPU: 8, ebb.Mem: 16 << 30}},
		Lease: time.Hour,
	})
	req := ebb.Requirements{Min: ebb.Resources{ebb.CPU: 2, ebb.Mem: 1 << 30}, Width: 2}
	a, err := c.Allocate(t.Context(), req, ebb.Labels{"run": "r1", "program": "align"})
	if err != nil {
		t.Fatal(err)
	}
	s := tel.span(t, "ebb.Cluster.Allocate")
	wantAttr(t, s, "ebb.pool", "mem")
	wantAttr(t, s, "ebb.alloc.id", a.ID())
	wantAttr(t, s, "ebb.want.cpu", 2.0)
	wantAttr(t, s, "ebb.want.mem", float64(1<<30))
	wantAttr(t, s, "ebb.want.width", int64(2))
	wantAttr(t, s, "ebb.resources.cpu", 4.0)
	wantAttr(t, s, "ebb.resources.mem", float64(2<<30))
	wantAttr(t, s, "ebb.label.run", "r1")
	wantAttr(t, s, "ebb.label.program", "align")
	if !hasEvent(s, "ebb.granted") {
		t.Errorf("Allocate span has no ebb.granted event: %v", s.Events())
	}
	wantOK(t, s)
	// The alloc is the wrapper's, and its inner alloc is the pool's.
	u, ok := a.(interface{ Unwrap() pool.Alloc })
	if !ok || u.Unwrap().ID() != a.ID() {
		t.Errorf("granted alloc %T does not unwrap to the pool's", a)
	}
}

func TestAllocateError(t *testing.T) {
	tel := newTelemetry(t)
	c, _ := newCluster(t, tel.config(), pooltest.PoolConfig{})
	_, err := c.Allocate(t.Context(), ebb.Requirements{Min: cpus(64)}, nil)
	if !errors.Is(err, ebb.ErrResources) {
		t.Fatalf("Allocate of 64 cpu from 4 = %v, want ErrResources", err)
	}
	s := tel.span(t, "ebb.Cluster.Allocate")
	wantError(t, s)
	if _, ok := attr(s, "ebb.alloc.id"); ok {
		t.Errorf("failed Allocate has an alloc ID")
	}
	if hasEvent(s, "ebb.granted") {
		t.Errorf("failed Allocate has an ebb.granted event")
	}
}

// A cancelled Allocate is the caller giving up: an event, not an error.
func TestAllocateCanceled(t *testing.T) {
	tel := newTelemetry(t)
	c, p := newCluster(t, tel.config(), pooltest.PoolConfig{})
	gate := p.Hold(pooltest.OpOffers)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error)
	go func() {
		_, err := c.Allocate(ctx, ebb.Requirements{Min: cpus(1)}, nil)
		errc <- err
	}()
	if err := gate.Arrived(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Allocate = %v", err)
	}
	s := tel.span(t, "ebb.Cluster.Allocate")
	wantOK(t, s)
	if !hasEvent(s, "ebb.canceled") {
		t.Errorf("cancelled Allocate span has no ebb.canceled event: %v", s.Events())
	}
	rm := tel.collect(t)
	if n := histCount(t, rm, "ebb.allocate.duration", outcome("canceled")); n != 1 {
		t.Errorf("%d canceled latencies, want 1", n)
	}
}

// Spans nest under the span of the caller's context.
func TestAllocateParent(t *testing.T) {
	tel := newTelemetry(t)
	c, _ := newCluster(t, tel.config(), pooltest.PoolConfig{Lease: time.Hour})
	ctx, parent := tel.tp.Tracer("test").Start(t.Context(), "parent")
	a, err := c.Allocate(ctx, ebb.Requirements{Min: cpus(1)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Free(ctx); err != nil {
		t.Fatal(err)
	}
	parent.End()
	for _, name := range []string{"ebb.Cluster.Allocate", "ebb.Alloc.Free"} {
		s := tel.span(t, name)
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("%s span's parent is %v, want the caller's span", name, s.Parent().SpanID())
		}
	}
}

func TestOffersAccept(t *testing.T) {
	tel := newTelemetry(t)
	c, _ := newCluster(t, tel.config(), pooltest.PoolConfig{
		Nodes: []ebb.Resources{cpus(4), cpus(8)},
		Lease: time.Hour,
	})
	offers, err := c.Offers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wantAttr(t, tel.span(t, "ebb.Pool.Offers"), "ebb.offers", int64(2))
	o := pool.BestFit(offers, cpus(2))
	a, err := o.Accept(t.Context(), pool.AllocMeta{Want: ebb.Requirements{Min: cpus(2)}, Labels: ebb.Labels{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	s := tel.span(t, "ebb.Offer.Accept")
	wantAttr(t, s, "ebb.offer.id", o.ID())
	wantAttr(t, s, "ebb.alloc.id", a.ID())
	wantAttr(t, s, "ebb.want.cpu", 2.0)
	wantAttr(t, s, "ebb.resources.cpu", 2.0)
	wantAttr(t, s, "ebb.label.k", "v")
	wantOK(t, s)

	// The offer is stale now: a second Accept loses.
	if _, err := o.Accept(t.Context(), pool.AllocMeta{Want: ebb.Requirements{Min: cpus(1)}}); !errors.Is(err, ebb.ErrOfferGone) {
		t.Fatalf("Accept of a stale offer = %v, want ErrOfferGone", err)
	}
	spans := tel.spans("ebb.Offer.Accept")
	if len(spans) != 2 {
		t.Fatalf("%d Accept spans, want 2", len(spans))
	}
	wantError(t, spans[1])
}

func TestKeepaliveFree(t *testing.T) {
	tel := newTelemetry(t)
	c, _ := newCluster(t, tel.config(), pooltest.PoolConfig{Lease: time.Hour, MaxLease: 2 * time.Hour})
	a, err := c.Allocate(t.Context(), ebb.Requirements{Min: cpus(1)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	granted, err := a.Keepalive(t.Context(), 3*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s := tel.span(t, "ebb.Alloc.Keepalive")
	wantAttr(t, s, "ebb.alloc.id", a.ID())
	wantAttr(t, s, "ebb.lease.requested", (3 * time.Hour).Seconds())
	wantAttr(t, s, "ebb.lease.granted", granted.Seconds())
	wantOK(t, s)

	if err := a.Free(t.Context()); err != nil {
		t.Fatal(err)
	}
	s = tel.span(t, "ebb.Alloc.Free")
	wantAttr(t, s, "ebb.alloc.id", a.ID())
	wantOK(t, s)

	// The alloc is gone: both calls fail with ErrExpired, recorded.
	if _, err := a.Keepalive(t.Context(), time.Hour); !errors.Is(err, ebb.ErrExpired) {
		t.Fatalf("Keepalive after Free = %v", err)
	}
	if err := a.Free(t.Context()); !errors.Is(err, ebb.ErrExpired) {
		t.Fatalf("second Free = %v", err)
	}
	wantError(t, tel.spans("ebb.Alloc.Keepalive")[1])
	wantError(t, tel.spans("ebb.Alloc.Free")[1])
}

// Capacity, Alloc, Allocs and the exec methods make no spans, and the
// allocs they return are wrapped.
func TestPassThrough(t *testing.T) {
	tel := newTelemetry(t)
	c, _ := newCluster(t, tel.config(), pooltest.PoolConfig{Lease: time.Hour})
	a, err := c.Allocate(t.Context(), ebb.Requirements{Min: cpus(1)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := len(tel.rec.Ended())
	if _, err := c.Capacity(t.Context()); err != nil {
		t.Fatal(err)
	}
	b, err := c.Alloc(t.Context(), a.ID())
	if err != nil {
		t.Fatal(err)
	}
	all, err := c.Allocs(t.Context())
	if err != nil || len(all) != 1 {
		t.Fatalf("Allocs = %v, %v", all, err)
	}
	x, err := b.Put(t.Context(), ebb.NewDigester().Digest(), pool.ExecConfig{
		Func:      func(ctx context.Context, env ebb.FuncEnv) error { return nil },
		Resources: cpus(1),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := x.Wait(t.Context()); err != nil || !res.OK() {
		t.Fatalf("Wait = %+v, %v", res, err)
	}
	if got := len(tel.rec.Ended()); got != before {
		t.Errorf("pass-through calls made %d spans: %v", got-before, names(tel.rec.Ended()[before:]))
	}
	for _, x := range []pool.Alloc{b, all[0]} {
		if _, ok := x.(interface{ Unwrap() pool.Alloc }); !ok {
			t.Errorf("alloc %T from a pass-through call is not wrapped", x)
		}
	}
	// Freeing through a listed alloc is recorded.
	if err := all[0].Free(t.Context()); err != nil {
		t.Fatal(err)
	}
	tel.span(t, "ebb.Alloc.Free")
}
