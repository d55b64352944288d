package tracing

import (
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Config says where telemetry goes. The zero value records nothing and
// costs nothing: [Wrap] returns the cluster unchanged and [NewRuns] hooks
// return at once. Nothing here reads or sets OpenTelemetry's global
// providers; telemetry goes only where Config sends it.
type Config struct {
	// TracerProvider makes the tracer that records spans. Nil, or a
	// provider from go.opentelemetry.io/otel/trace/noop, records none.
	TracerProvider trace.TracerProvider

	// MeterProvider makes the instruments that record metrics, once per
	// Wrap or NewRuns call. Nil, or a provider from
	// go.opentelemetry.io/otel/metric/noop, records none.
	MeterProvider metric.MeterProvider
}

// scope names this package to tracer and meter providers, as the
// instrumentation scope of everything it records.
const scope = "github.com/ebbflow/ebb/tracing"

// tracer returns cfg's tracer, or nil when cfg records no spans. The no-op
// providers are recognized so that they cost what nil costs: nothing.
func (cfg Config) tracer() trace.Tracer {
	switch cfg.TracerProvider.(type) {
	case nil, tracenoop.TracerProvider, *tracenoop.TracerProvider:
		return nil
	}
	return cfg.TracerProvider.Tracer(scope)
}

// meter returns cfg's meter, or nil when cfg records no metrics.
func (cfg Config) meter() metric.Meter {
	switch cfg.MeterProvider.(type) {
	case nil, metricnoop.MeterProvider, *metricnoop.MeterProvider:
		return nil
	}
	return cfg.MeterProvider.Meter(scope)
}
