package tracing

import (
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/ebbflow/ebb"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Span names; doc.go lists what each records.
const (
	spanAllocate  = "ebb.Cluster.Allocate"
	spanOffers    = "ebb.Pool.Offers"
	spanAccept    = "ebb.Offer.Accept"
	spanKeepalive = "ebb.Alloc.Keepalive"
	spanFree      = "ebb.Alloc.Free"
	spanRun       = "ebb.Run"
	spanTask      = "ebb.Task"
)

// Span event names.
const (
	eventGranted  = "ebb.granted"
	eventCanceled = "ebb.canceled"
	eventPhase    = "ebb.phase"
	eventCached   = "ebb.task.cached"
)

// Attribute keys. Resources and labels get one attribute per key, under
// the prefixes below: ebb.resources.cpu, ebb.want.mem, ebb.label.run.
const (
	keyPool         = attribute.Key("ebb.pool")
	keyAllocID      = attribute.Key("ebb.alloc.id")
	keyOfferID      = attribute.Key("ebb.offer.id")
	keyOffers       = attribute.Key("ebb.offers")
	keyWidth        = attribute.Key("ebb.want.width")
	keyLeaseAsked   = attribute.Key("ebb.lease.requested")
	keyLeaseGranted = attribute.Key("ebb.lease.granted")
	keyRunID        = attribute.Key("ebb.run.id")
	keyProgram      = attribute.Key("ebb.run.program")
	keyPhase        = attribute.Key("ebb.run.phase")
	keyTaskName     = attribute.Key("ebb.task.name")
	keyTaskDigest   = attribute.Key("ebb.task.digest")
	keyExitCode     = attribute.Key("ebb.exec.exit_code")
	keyKilled       = attribute.Key("ebb.exec.killed")
	keyTransient    = attribute.Key("ebb.exec.transient")

	prefixResources = "ebb.resources."
	prefixWant      = "ebb.want."
	prefixLabel     = "ebb.label."

	// Metric attributes.
	keyResource = attribute.Key("resource")
	keyOutcome  = attribute.Key("outcome")
)

// Outcomes, the values of the outcome metric attribute.
const (
	outcomeGranted     = "granted"     // Allocate granted an alloc
	outcomeFailed      = "failed"      // Allocate failed; a task's result is not OK
	outcomeCanceled    = "canceled"    // the caller cancelled the call
	outcomeOK          = "ok"          // the task succeeded
	outcomeInterrupted = "interrupted" // the task has no result: alloc lost, ctx done
	outcomeCached      = "cached"      // the task's result came from the cache
)

// appendResources appends one float attribute per non-zero key of r, named
// prefix+key, in r.Keys order.
func appendResources(kv []attribute.KeyValue, prefix string, r ebb.Resources) []attribute.KeyValue {
	for _, k := range r.Keys() {
		kv = append(kv, attribute.Float64(prefix+k, r[k]))
	}
	return kv
}

// appendLabels appends one string attribute per label, keys in order.
func appendLabels(kv []attribute.KeyValue, l ebb.Labels) []attribute.KeyValue {
	for _, k := range slices.Sorted(maps.Keys(l)) {
		kv = append(kv, attribute.String(prefixLabel+k, l[k]))
	}
	return kv
}

// appendWant appends the attributes of a request: its Min under
// ebb.want.<key>, and its width when above 1.
func appendWant(kv []attribute.KeyValue, req ebb.Requirements) []attribute.KeyValue {
	kv = appendResources(kv, prefixWant, req.Min)
	if req.Width > 1 {
		kv = append(kv, keyWidth.Int(req.Width))
	}
	return kv
}

// startSpan starts a span named name under ctx, or returns ctx and a nil
// span when t is nil (spans are off). No attributes are given at start, so
// that a span a sampler drops costs no attribute building; callers add them
// when recording says so. Samplers therefore see the span name and parent
// only.
func startSpan(ctx context.Context, t trace.Tracer, name string) (context.Context, trace.Span) {
	if t == nil {
		return ctx, nil
	}
	return t.Start(ctx, name)
}

// recording reports whether s takes attributes: it is not nil and sampled.
func recording(s trace.Span) bool { return s != nil && s.IsRecording() }

// endSpan ends s with err: an error is recorded as an exception event and
// sets the status to Error, except a cancellation (context.Canceled), which
// is the caller giving up, not a failure: it adds an ebb.canceled event.
// A nil s does nothing.
func endSpan(s trace.Span, err error) {
	if s == nil {
		return
	}
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled):
		s.AddEvent(eventCanceled)
	default:
		s.RecordError(err)
		s.SetStatus(codes.Error, err.Error())
	}
	s.End()
}
