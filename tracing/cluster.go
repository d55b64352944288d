package tracing

import (
	"context"
	"errors"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Wrap returns a Cluster that does what c does and records it: Allocate,
// Offers, Offer.Accept, Alloc.Keepalive and Alloc.Free as spans, and the
// allocs and resources held, the Allocate calls in flight, their latency
// and the resource-minutes used as metrics (doc.go lists them all).
//
// The offers and allocs it returns are wrapped too, so that later calls on
// them are recorded. Every alloc it hands out, from any method, reports the
// returned cluster as its Pool and has an Unwrap() pool.Alloc method that
// returns c's own alloc; the cluster has an Unwrap() cluster.Cluster method
// that returns c.
//
// When cfg records neither spans nor metrics (the zero Config, or no-op
// providers), Wrap returns c itself: tracing that is off costs nothing.
// Wrap each cluster once: two wrappers over one cluster count its allocs
// twice. It panics when c is nil, a programmer error.
//
// The result is safe for concurrent use as c is.
func Wrap(c cluster.Cluster, cfg Config) cluster.Cluster {
	if c == nil {
		panic("tracing.Wrap: nil cluster")
	}
	tracer, meter := cfg.tracer(), cfg.meter()
	if tracer == nil && meter == nil {
		return c
	}
	t := &tracingCluster{inner: c, id: c.ID(), tracer: tracer}
	t.poolAttr = keyPool.String(t.id)
	if meter != nil {
		t.metrics = newClusterMetrics(meter, t.id)
		t.ledger = newLedger(t.metrics)
	}
	return t
}

// tracingCluster is what Wrap returns. Its fields are set by Wrap and never
// written after; the ledger has its own lock.
type tracingCluster struct {
	inner    cluster.Cluster
	id       string
	poolAttr attribute.KeyValue
	tracer   trace.Tracer    // nil: no spans
	metrics  *clusterMetrics // nil: no metrics
	ledger   *ledger         // nil without metrics
}

var _ cluster.Cluster = (*tracingCluster)(nil)

// Unwrap returns the cluster that Wrap was given.
func (c *tracingCluster) Unwrap() cluster.Cluster { return c.inner }

// ID returns the wrapped cluster's ID.
func (c *tracingCluster) ID() string { return c.id }

// Capacity passes through, unrecorded.
func (c *tracingCluster) Capacity(ctx context.Context) ([]ebb.Resources, error) {
	return c.inner.Capacity(ctx)
}

// Sizes passes on what the wrapped cluster says its nodes hold (see
// stealer.Sizer), or nil when it says nothing.
func (c *tracingCluster) Sizes() []ebb.Resources {
	if z, ok := c.inner.(interface{ Sizes() []ebb.Resources }); ok {
		return z.Sizes()
	}
	return nil
}

// Allocate records an ebb.Cluster.Allocate span that lasts as long as the
// wait for the alloc, with the request and labels as attributes, and on
// success an ebb.granted event and the alloc's ID and resources. The
// granted alloc is counted as held until it is freed or found expired.
func (c *tracingCluster) Allocate(ctx context.Context, req ebb.Requirements, labels ebb.Labels) (pool.Alloc, error) {
	ctx, span := startSpan(ctx, c.tracer, spanAllocate)
	if recording(span) {
		kv := make([]attribute.KeyValue, 0, 8)
		kv = append(kv, c.poolAttr)
		kv = appendWant(kv, req)
		span.SetAttributes(appendLabels(kv, labels)...)
	}
	if c.metrics == nil {
		a, err := c.inner.Allocate(ctx, req, labels)
		return c.granted(ctx, span, a, err)
	}
	start := c.metrics.requestStart(ctx)
	a, err := c.inner.Allocate(ctx, req, labels)
	c.metrics.requestEnd(ctx, start, allocateOutcome(err))
	return c.granted(ctx, span, a, err)
}

// granted finishes an Allocate or Accept: it wraps and counts the alloc,
// and ends span.
func (c *tracingCluster) granted(ctx context.Context, span trace.Span, a pool.Alloc, err error) (pool.Alloc, error) {
	if err != nil || a == nil {
		endSpan(span, err)
		return nil, err
	}
	c.ledger.grant(ctx, a)
	if recording(span) {
		id := keyAllocID.String(a.ID())
		span.AddEvent(eventGranted, trace.WithAttributes(id))
		span.SetAttributes(appendResources([]attribute.KeyValue{id}, prefixResources, a.Resources())...)
	}
	endSpan(span, nil)
	return c.wrapAlloc(a), nil
}

func allocateOutcome(err error) string {
	switch {
	case err == nil:
		return outcomeGranted
	case errors.Is(err, context.Canceled):
		return outcomeCanceled
	}
	return outcomeFailed
}

// Offers records an ebb.Pool.Offers span with the number of offers, and
// wraps each offer so that its Accept is recorded.
func (c *tracingCluster) Offers(ctx context.Context) ([]pool.Offer, error) {
	ctx, span := startSpan(ctx, c.tracer, spanOffers)
	offers, err := c.inner.Offers(ctx)
	if err != nil {
		endSpan(span, err)
		return nil, err
	}
	// The slice is ours (Pool.Offers gives the caller a fresh one), so
	// the wrappers replace the offers in place.
	for i, o := range offers {
		offers[i] = &offer{Offer: o, c: c}
	}
	if recording(span) {
		span.SetAttributes(c.poolAttr, keyOffers.Int(len(offers)))
	}
	endSpan(span, nil)
	return offers, nil
}

// Alloc re-attaches to a live alloc, unrecorded as a span. Re-attaching is
// how a resumed driver takes back the allocs it holds, so the alloc counts
// as held from now on (once, if it was held already). An alloc that the
// cluster says does not exist, but was counted, is uncounted as lost.
func (c *tracingCluster) Alloc(ctx context.Context, id string) (pool.Alloc, error) {
	a, err := c.inner.Alloc(ctx, id)
	if err != nil {
		if errors.Is(err, ebb.ErrNotExist) || errors.Is(err, ebb.ErrExpired) {
			c.ledger.release(ctx, id, true)
		}
		return nil, err
	}
	if a == nil {
		return nil, nil
	}
	c.ledger.grant(ctx, a)
	return c.wrapAlloc(a), nil
}

// Allocs lists the cluster's live allocs, unrecorded, each wrapped. Listing
// is looking, not holding: allocs not held through this cluster are not
// counted, though freeing one through its wrapper is recorded.
func (c *tracingCluster) Allocs(ctx context.Context) ([]pool.Alloc, error) {
	allocs, err := c.inner.Allocs(ctx)
	if err != nil {
		return nil, err
	}
	for i, a := range allocs {
		allocs[i] = c.wrapAlloc(a)
	}
	return allocs, nil
}

func (c *tracingCluster) wrapAlloc(a pool.Alloc) pool.Alloc {
	if a == nil {
		return nil
	}
	return &alloc{Alloc: a, c: c}
}
