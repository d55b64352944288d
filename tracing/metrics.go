package tracing

import (
	"context"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// Metric names; doc.go lists their units and attributes.
const (
	metricAllocsHeld      = "ebb.allocs.held"
	metricResourcesHeld   = "ebb.resources.held"
	metricAllocateActive  = "ebb.allocate.active"
	metricAllocateLatency = "ebb.allocate.duration"
	metricResourceMinutes = "ebb.resources.minutes"
	metricTasks           = "ebb.tasks"
	metricTaskDuration    = "ebb.task.duration"
)

// latencyBuckets are the advised histogram boundaries, in seconds, for how
// long an Allocate or a task takes: from a free local slot (milliseconds)
// to a cluster launching workers behind a batch queue (an hour or more).
var latencyBuckets = []float64{
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
	30, 60, 120, 300, 600, 1200, 1800, 3600, 7200,
}

// orNoop returns inst, or fallback when the meter failed to make one. The
// SDK returns a working instrument with its error (for a name it dislikes,
// say), and names here are fixed, so the fallback only guards against a
// MeterProvider that returns nil.
func orNoop[T any](inst T, err error, fallback T) T {
	if err != nil && any(inst) == nil {
		return fallback
	}
	return inst
}

// clusterMetrics are the instruments of one tracing cluster, made once by
// Wrap. Every measurement carries the ebb.pool attribute.
type clusterMetrics struct {
	allocs    metric.Int64UpDownCounter
	resources metric.Float64UpDownCounter
	active    metric.Int64UpDownCounter
	latency   metric.Float64Histogram
	minutes   metric.Float64Counter

	pool    attribute.KeyValue
	poolSet metric.MeasurementOption
	// outcomes holds the latency's attribute set for each outcome.
	outcomes map[string]metric.MeasurementOption
}

func newClusterMetrics(m metric.Meter, poolID string) *clusterMetrics {
	allocs, err := m.Int64UpDownCounter(metricAllocsHeld,
		metric.WithDescription("Allocs held through the cluster: granted or re-attached, and not yet freed or found expired."),
		metric.WithUnit("{alloc}"))
	allocs = orNoop(allocs, err, metric.Int64UpDownCounter(noop.Int64UpDownCounter{}))
	resources, err := m.Float64UpDownCounter(metricResourcesHeld,
		metric.WithDescription("Resources held by the allocs counted in ebb.allocs.held, by resource key (cpu in cores, mem and disk in bytes, gpu in devices)."))
	resources = orNoop(resources, err, metric.Float64UpDownCounter(noop.Float64UpDownCounter{}))
	active, err := m.Int64UpDownCounter(metricAllocateActive,
		metric.WithDescription("Allocate calls in flight."),
		metric.WithUnit("{request}"))
	active = orNoop(active, err, metric.Int64UpDownCounter(noop.Int64UpDownCounter{}))
	latency, err := m.Float64Histogram(metricAllocateLatency,
		metric.WithDescription("How long Allocate took, granted or not, by outcome (granted, failed, canceled)."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(latencyBuckets...))
	latency = orNoop(latency, err, metric.Float64Histogram(noop.Float64Histogram{}))
	minutes, err := m.Float64Counter(metricResourceMinutes,
		metric.WithDescription("Resource quantity times minutes held, by resource key: accrued at every Keepalive and when an alloc is freed or found expired."),
		metric.WithUnit("min"))
	minutes = orNoop(minutes, err, metric.Float64Counter(noop.Float64Counter{}))
	p := keyPool.String(poolID)
	outcomes := make(map[string]metric.MeasurementOption)
	for _, o := range []string{outcomeGranted, outcomeFailed, outcomeCanceled} {
		outcomes[o] = metric.WithAttributeSet(attribute.NewSet(p, keyOutcome.String(o)))
	}
	return &clusterMetrics{
		allocs:    allocs,
		resources: resources,
		active:    active,
		latency:   latency,
		minutes:   minutes,
		pool:      p,
		poolSet:   metric.WithAttributeSet(attribute.NewSet(p)),
		outcomes:  outcomes,
	}
}

// withResource is the attribute set of a per-resource measurement.
func (m *clusterMetrics) withResource(key string) metric.MeasurementOption {
	return metric.WithAttributeSet(attribute.NewSet(m.pool, keyResource.String(key)))
}

// requestStart counts an Allocate in flight and returns when it started.
func (m *clusterMetrics) requestStart(ctx context.Context) time.Time {
	m.active.Add(ctx, 1, m.poolSet)
	return time.Now()
}

// requestEnd uncounts an Allocate and records its latency and outcome.
func (m *clusterMetrics) requestEnd(ctx context.Context, start time.Time, outcome string) {
	m.active.Add(ctx, -1, m.poolSet)
	m.latency.Record(ctx, time.Since(start).Seconds(), m.outcomes[outcome])
}

// A ledger counts the allocs a tracing cluster holds, so that each is
// counted once when granted (or re-attached) and uncounted once when it is
// freed or found expired, through whichever wrapper of it that happens.
// Allocs are known by ID, which is unique within a cluster.
//
// mu guards held. Measurements are made after mu is released: a
// MeterProvider is user code and may be slow.
type ledger struct {
	m *clusterMetrics

	mu   sync.Mutex
	held map[string]*held
}

// held is the ledger's record of one alloc.
type held struct {
	res ebb.Resources // what the alloc holds; never written after grant
	// since is when resource-minutes were last accrued for the alloc.
	since time.Time
	// expires is the end of the last lease Keepalive granted; zero
	// until one did.
	expires time.Time
}

func newLedger(m *clusterMetrics) *ledger {
	return &ledger{m: m, held: make(map[string]*held)}
}

// grant counts a as held from now, unless it is held already. A nil
// ledger does nothing.
func (l *ledger) grant(ctx context.Context, a pool.Alloc) {
	if l == nil {
		return
	}
	id, res := a.ID(), a.Resources().Clone() // Clone drops zero keys
	now := time.Now()
	l.mu.Lock()
	_, ok := l.held[id]
	if !ok {
		l.held[id] = &held{res: res, since: now}
	}
	l.mu.Unlock()
	if ok {
		return
	}
	l.m.allocs.Add(ctx, 1, l.m.poolSet)
	for k, v := range res {
		l.m.resources.Add(ctx, v, l.m.withResource(k))
	}
}

// renew accrues the resource-minutes of alloc id up to now, and notes that
// its lease now runs for granted.
func (l *ledger) renew(ctx context.Context, id string, granted time.Duration) {
	if l == nil {
		return
	}
	now := time.Now()
	l.mu.Lock()
	h, ok := l.held[id]
	var mins float64
	if ok {
		mins = now.Sub(h.since).Minutes()
		h.since, h.expires = now, now.Add(granted)
	}
	l.mu.Unlock()
	if ok {
		l.accrue(ctx, h.res, mins)
	}
}

// release uncounts alloc id, once, and accrues its last resource-minutes.
// A freed alloc is charged up to now. A lost one (found expired) is charged
// up to the end of its last granted lease when that came before now, since
// the pool took the resources back then.
func (l *ledger) release(ctx context.Context, id string, lost bool) {
	if l == nil {
		return
	}
	now := time.Now()
	l.mu.Lock()
	h, ok := l.held[id]
	delete(l.held, id)
	l.mu.Unlock()
	if !ok {
		return
	}
	end := now
	if lost && !h.expires.IsZero() && h.expires.Before(end) {
		end = h.expires
	}
	l.m.allocs.Add(ctx, -1, l.m.poolSet)
	for k, v := range h.res {
		l.m.resources.Add(ctx, -v, l.m.withResource(k))
	}
	l.accrue(ctx, h.res, max(0, end.Sub(h.since).Minutes()))
}

func (l *ledger) accrue(ctx context.Context, res ebb.Resources, mins float64) {
	if mins <= 0 {
		return
	}
	for k, v := range res {
		l.m.minutes.Add(ctx, v*mins, l.m.withResource(k))
	}
}
