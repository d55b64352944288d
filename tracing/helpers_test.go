package tracing_test

import (
	"context"
	"math"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool/pooltest"
	"github.com/ebbflow/ebb/tracing"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func cpus(n float64) ebb.Resources { return ebb.Resources{ebb.CPU: n} }

// telemetry is an SDK tracer provider with a span recorder and an SDK
// meter provider with a manual reader, shut down when the test ends.
type telemetry struct {
	rec    *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
}

func newTelemetry(t testing.TB) *telemetry {
	tel := &telemetry{rec: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.rec))
	tel.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	t.Cleanup(func() {
		tel.tp.Shutdown(context.Background())
		tel.mp.Shutdown(context.Background())
	})
	return tel
}

func (tel *telemetry) config() tracing.Config {
	return tracing.Config{TracerProvider: tel.tp, MeterProvider: tel.mp}
}

// spans returns the ended spans named name, in the order they ended.
func (tel *telemetry) spans(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range tel.rec.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// span returns the one ended span named name.
func (tel *telemetry) span(t *testing.T, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	spans := tel.spans(name)
	if len(spans) != 1 {
		t.Fatalf("%d %s spans ended, want 1 (all: %v)", len(spans), name, names(tel.rec.Ended()))
	}
	return spans[0]
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name()
	}
	return out
}

func (tel *telemetry) collect(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return rm
}

func findMetric(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// has reports whether set holds every one of want.
func has(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// sum returns the sum of the data points of counter name whose attributes
// include attrs, and whether the metric was found at all.
func sum(t *testing.T, rm metricdata.ResourceMetrics, name string, attrs ...attribute.KeyValue) float64 {
	t.Helper()
	m, ok := findMetric(rm, name)
	if !ok {
		return 0
	}
	var total float64
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			if has(p.Attributes, attrs) {
				total += float64(p.Value)
			}
		}
	case metricdata.Sum[float64]:
		for _, p := range d.DataPoints {
			if has(p.Attributes, attrs) {
				total += p.Value
			}
		}
	default:
		t.Fatalf("metric %s is a %T, want a sum", name, m.Data)
	}
	return total
}

// histCount returns how many observations histogram name holds in its data
// points whose attributes include attrs.
func histCount(t *testing.T, rm metricdata.ResourceMetrics, name string, attrs ...attribute.KeyValue) uint64 {
	t.Helper()
	m, ok := findMetric(rm, name)
	if !ok {
		return 0
	}
	d, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("metric %s is a %T, want a float histogram", name, m.Data)
	}
	var n uint64
	for _, p := range d.DataPoints {
		if has(p.Attributes, attrs) {
			n += p.Count
		}
	}
	return n
}

func attr(s sdktrace.ReadOnlySpan, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

func wantAttr(t *testing.T, s sdktrace.ReadOnlySpan, key string, want any) {
	t.Helper()
	v, ok := attr(s, key)
	if !ok {
		t.Errorf("span %s: no attribute %s (has %v)", s.Name(), key, s.Attributes())
		return
	}
	if got := v.AsInterface(); got != want {
		t.Errorf("span %s: %s = %v (%T), want %v (%T)", s.Name(), key, got, got, want, want)
	}
}

func hasEvent(s sdktrace.ReadOnlySpan, name string) bool {
	for _, e := range s.Events() {
		if e.Name == name {
			return true
		}
	}
	return false
}

// wantError checks that s recorded an error: an exception event and the
// Error status.
func wantError(t *testing.T, s sdktrace.ReadOnlySpan) {
	t.Helper()
	if s.Status().Code != codes.Error {
		t.Errorf("span %s: status %v, want Error", s.Name(), s.Status())
	}
	if !hasEvent(s, "exception") {
		t.Errorf("span %s: no exception event (events %v)", s.Name(), s.Events())
	}
}

func wantOK(t *testing.T, s sdktrace.ReadOnlySpan) {
	t.Helper()
	if s.Status().Code == codes.Error || hasEvent(s, "exception") {
		t.Errorf("span %s: status %v, events %v; want no error", s.Name(), s.Status(), s.Events())
	}
}

func near(got, want float64) bool { return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want)) }

// newCluster returns a tracing cluster over a memory pool of the given
// nodes (one of 4 cpu when none), and the pool for its fault controls.
func newCluster(t *testing.T, cfg tracing.Config, pc pooltest.PoolConfig) (cluster.Cluster, *pooltest.Pool) {
	p := pooltest.NewPool(pc)
	t.Cleanup(func() { p.Close() })
	return tracing.Wrap(cluster.NewStatic(p), cfg), p
}

// histSum returns the sum of every observation of a float histogram.
func histSum(m metricdata.Metrics) float64 {
	d, _ := m.Data.(metricdata.Histogram[float64])
	var total float64
	for _, p := range d.DataPoints {
		total += p.Sum
	}
	return total
}
