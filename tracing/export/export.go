package export

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/tracing"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Config says which exporters New sets up besides those the environment
// asks for.
type Config struct {
	// ServiceName is the resource's service.name unless
	// OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES set one. Default "ebb".
	ServiceName string
	// Prometheus makes a Prometheus registry that the meter provider
	// feeds, served by Providers.Handler.
	Prometheus bool
	// Getenv reads the environment variables New decides on (which
	// signals go out, and how). Default os.Getenv. The OTLP exporters
	// read the process's environment themselves for the rest.
	Getenv func(string) string
}

// Providers are the tracer and meter providers New made, ready to be
// passed on as Tracing, and what else they serve.
type Providers struct {
	// Tracing holds the providers; a provider is nil when nothing
	// exports its signal, so that tracing that goes nowhere costs
	// nothing.
	Tracing tracing.Config
	// Handler serves the Prometheus registry (the text exposition
	// format), when Config.Prometheus was set; nil otherwise.
	Handler http.Handler
	// Traces and Metrics say where each signal goes, for people:
	// "otlp http://host:4318/v1/traces", "prometheus", or "".
	Traces, Metrics string

	tp *sdktrace.TracerProvider
	mp *sdkmetric.MeterProvider
}

// New makes the providers that cfg and the environment ask for. It fails
// with an error wrapping ebb.ErrInvalid when the environment asks for
// what it cannot do (an exporter other than otlp or none, OTLP over
// gRPC). Exporters connect lazily: a collector that is not there yet
// costs failed exports, not an error here. The caller calls Shutdown.
func New(ctx context.Context, cfg Config) (*Providers, error) {
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = "ebb"
	}
	disabled := strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true")
	traces, err := otlpWanted(getenv, "TRACES", disabled)
	if err != nil {
		return nil, err
	}
	metrics, err := otlpWanted(getenv, "METRICS", disabled)
	if err != nil {
		return nil, err
	}
	p := &Providers{}
	if !traces && !metrics && !cfg.Prometheus {
		return p, nil
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", cfg.ServiceName)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) && !errors.Is(err, resource.ErrSchemaURLConflict) {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %v: %w", err, ebb.ErrInvalid)
	}
	if traces {
		exp, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("OTLP traces: %w", err)
		}
		p.tp = sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(exp))
		p.Tracing.TracerProvider = p.tp
		p.Traces = "otlp " + endpoint(getenv, "TRACES", "/v1/traces")
	}
	var readers []sdkmetric.Option
	var where []string
	if metrics {
		exp, err := otlpmetrichttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("OTLP metrics: %w", err)
		}
		readers = append(readers, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)))
		where = append(where, "otlp "+endpoint(getenv, "METRICS", "/v1/metrics"))
	}
	if cfg.Prometheus {
		reg := prometheus.NewRegistry()
		exp, err := otelprom.New(otelprom.WithRegisterer(reg))
		if err != nil {
			return nil, fmt.Errorf("prometheus exporter: %w", err)
		}
		readers = append(readers, sdkmetric.WithReader(exp))
		p.Handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
		where = append(where, "prometheus")
	}
	if len(readers) > 0 {
		p.mp = sdkmetric.NewMeterProvider(append(readers, sdkmetric.WithResource(res))...)
		p.Tracing.MeterProvider = p.mp
		p.Metrics = strings.Join(where, ", ")
	}
	return p, nil
}

// otlpWanted reports whether the environment sends signal (TRACES or
// METRICS) out over OTLP: an endpoint is set for it, its exporter is otlp
// (the default) and the protocol is http/protobuf.
func otlpWanted(getenv func(string) string, signal string, disabled bool) (bool, error) {
	name := "OTEL_" + signal + "_EXPORTER"
	switch v := strings.TrimSpace(getenv(name)); v {
	case "", "otlp":
	case "none":
		return false, nil
	default:
		return false, fmt.Errorf("%s=%q: ebb exports otlp or none: %w", name, v, ebb.ErrInvalid)
	}
	if disabled {
		return false, nil
	}
	if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_"+signal+"_ENDPOINT") == "" {
		return false, nil
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_" + signal + "_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		switch v := strings.TrimSpace(getenv(name)); v {
		case "":
			continue
		case "http/protobuf":
		default:
			return false, fmt.Errorf("%s=%q: ebb sends OTLP as http/protobuf only: %w", name, v, ebb.ErrInvalid)
		}
		break
	}
	return true, nil
}

// endpoint is where signal goes, as the exporter works it out.
func endpoint(getenv func(string) string, signal, path string) string {
	if e := getenv("OTEL_EXPORTER_OTLP_" + signal + "_ENDPOINT"); e != "" {
		return e
	}
	return strings.TrimSuffix(getenv("OTEL_EXPORTER_OTLP_ENDPOINT"), "/") + path
}

// Shutdown flushes what the providers hold (the spans batched, a last
// collection of the metrics) to the exporters and stops them, within ctx.
// It returns the first error. A nil *Providers does nothing.
func (p *Providers) Shutdown(ctx context.Context) error {
	if p == nil {
		return nil
	}
	var errs []error
	if p.tp != nil {
		errs = append(errs, p.tp.Shutdown(ctx))
	}
	if p.mp != nil {
		errs = append(errs, p.mp.Shutdown(ctx))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	return nil
}
