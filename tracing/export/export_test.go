package export_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/tracing"
	"github.com/ebbflow/ebb/tracing/export"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestNewFromEnvironment(t *testing.T) {
	const base = "http://127.0.0.1:4318"
	for _, tc := range []struct {
		name            string
		env             map[string]string
		prometheus      bool
		traces, metrics string
		err             error
	}{
		{name: "nothing", env: nil},
		{name: "endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base},
			traces: "otlp " + base + "/v1/traces", metrics: "otlp " + base + "/v1/metrics"},
		{name: "endpoint, slash", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base + "/"},
			traces: "otlp " + base + "/v1/traces", metrics: "otlp " + base + "/v1/metrics"},
		{name: "traces only", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": base + "/t"},
			traces: "otlp " + base + "/t"},
		{name: "metrics none", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base, "OTEL_METRICS_EXPORTER": "none"},
			traces: "otlp " + base + "/v1/traces"},
		{name: "metrics none, prometheus", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base, "OTEL_METRICS_EXPORTER": "none"},
			prometheus: true, traces: "otlp " + base + "/v1/traces", metrics: "prometheus"},
		{name: "both and prometheus", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base}, prometheus: true,
			traces: "otlp " + base + "/v1/traces", metrics: "otlp " + base + "/v1/metrics, prometheus"},
		{name: "disabled", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base, "OTEL_SDK_DISABLED": "true"}},
		{name: "http/protobuf", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
			traces: "otlp " + base + "/v1/traces", metrics: "otlp " + base + "/v1/metrics"},
		{name: "grpc", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, err: ebb.ErrInvalid},
		{name: "grpc for traces", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, err: ebb.ErrInvalid},
		{name: "signal's protocol first", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base,
			"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf", "OTEL_METRICS_EXPORTER": "none"},
			traces: "otlp " + base + "/v1/traces"},
		{name: "zipkin", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, err: ebb.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := export.New(t.Context(), export.Config{Getenv: env(tc.env), Prometheus: tc.prometheus})
			if !errors.Is(err, tc.err) {
				t.Fatalf("New: %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			defer p.Shutdown(context.Background())
			if p.Traces != tc.traces || p.Metrics != tc.metrics {
				t.Errorf("traces to %q, metrics to %q; want %q, %q", p.Traces, p.Metrics, tc.traces, tc.metrics)
			}
			if (p.Tracing.TracerProvider != nil) != (tc.traces != "") || (p.Tracing.MeterProvider != nil) != (tc.metrics != "") {
				t.Errorf("providers %v, %v for traces %q, metrics %q", p.Tracing.TracerProvider, p.Tracing.MeterProvider, tc.traces, tc.metrics)
			}
			if (p.Handler != nil) != tc.prometheus {
				t.Errorf("handler %v with Prometheus %v", p.Handler, tc.prometheus)
			}
		})
	}
}

// TestPrometheusHandler records tasks through tracing.Runs and reads them
// back from the handler, under the names the package doc gives.
func TestPrometheusHandler(t *testing.T) {
	p, err := export.New(t.Context(), export.Config{Getenv: env(nil), Prometheus: true, ServiceName: "ebb-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	runs := tracing.NewRuns(p.Tracing)
	for range 3 {
		_, task := runs.StartTask(t.Context(), "t", "sha256:00", nil, "a1")
		task.End(pool.Result{}, nil)
	}
	runs.Cached(t.Context(), "c", "sha256:01")
	srv := httptest.NewServer(p.Handler)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	text := string(body)
	for _, want := range []string{
		`ebb_tasks_total{otel_scope_name="github.com/ebbflow/ebb/tracing",otel_scope_schema_url="",otel_scope_version="",outcome="ok"} 3`,
		`ebb_tasks_total{otel_scope_name="github.com/ebbflow/ebb/tracing",otel_scope_schema_url="",otel_scope_version="",outcome="cached"} 1`,
		`ebb_task_duration_seconds_count{`,
		`target_info{service_name="ebb-test"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the handler's metrics lack %s:\n%s", want, text)
		}
	}
}
