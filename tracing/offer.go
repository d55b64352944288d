package tracing

import (
	"context"

	"github.com/ebbflow/ebb/pool"
	"go.opentelemetry.io/otel/attribute"
)

// offer is an Offer of a tracing cluster: Accept is recorded, ID and
// Available pass through.
type offer struct {
	pool.Offer
	c *tracingCluster
}

// Unwrap returns the wrapped cluster's offer.
func (o *offer) Unwrap() pool.Offer { return o.Offer }

// Accept records an ebb.Offer.Accept span with the offer's ID, the request
// and its labels, and on success the alloc's ID and resources. The alloc is
// counted as held until it is freed or found expired.
func (o *offer) Accept(ctx context.Context, meta pool.AllocMeta) (pool.Alloc, error) {
	ctx, span := startSpan(ctx, o.c.tracer, spanAccept)
	if recording(span) {
		kv := make([]attribute.KeyValue, 0, 8)
		kv = append(kv, o.c.poolAttr, keyOfferID.String(o.ID()))
		kv = appendWant(kv, meta.Want)
		span.SetAttributes(appendLabels(kv, meta.Labels)...)
	}
	a, err := o.Offer.Accept(ctx, meta)
	return o.c.granted(ctx, span, a, err)
}
