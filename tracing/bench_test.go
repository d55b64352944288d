package tracing_test

import (
	"context"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
	"github.com/ebbflow/ebb/tracing"
	"github.com/opencontainers/go-digest"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// benchConfigs are the ways tracing can be set up, cheapest first:
//
//	off         the zero Config
//	noop        the OpenTelemetry no-op providers
//	unsampled   an SDK tracer whose sampler drops every span, no metrics
//	sdk         an SDK tracer recording every span (exported nowhere) and
//	            an SDK meter with a manual reader
func benchConfigs(b *testing.B) []struct {
	name string
	cfg  tracing.Config
} {
	never := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	always := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	meter := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() {
		never.Shutdown(context.Background())
		always.Shutdown(context.Background())
		meter.Shutdown(context.Background())
	})
	return []struct {
		name string
		cfg  tracing.Config
	}{
		{"off", tracing.Config{}},
		{"noop", tracing.Config{TracerProvider: tracenoop.NewTracerProvider(), MeterProvider: metricnoop.NewMeterProvider()}},
		{"unsampled", tracing.Config{TracerProvider: never}},
		{"sdk", tracing.Config{TracerProvider: always, MeterProvider: meter}},
	}
}

// BenchmarkStartTask measures the hooks a runner calls around one task:
// StartTask and End.
func BenchmarkStartTask(b *testing.B) {
	res := ebb.Resources{ebb.CPU: 1, ebb.Mem: 1 << 30}
	result := pool.Result{ExitCode: 0}
	// baseline is the floor: two calls of the same shapes that do nothing.
	b.Run("baseline", func(b *testing.B) {
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			_, task := startNothing(ctx, "task", taskDigest, res, "alloc")
			task.end(result, nil)
		}
	})
	b.Run("nil", func(b *testing.B) {
		var runs *tracing.Runs
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			_, task := runs.StartTask(ctx, "task", taskDigest, res, "alloc")
			task.End(result, nil)
		}
	})
	for _, bc := range benchConfigs(b) {
		b.Run(bc.name, func(b *testing.B) {
			runs := tracing.NewRuns(bc.cfg)
			ctx, run := runs.StartRun(context.Background(), "run", "prog")
			defer run.End(nil)
			b.ReportAllocs()
			for b.Loop() {
				_, task := runs.StartTask(ctx, "task", taskDigest, res, "alloc")
				task.End(result, nil)
			}
		})
	}
}

type nothing struct {
	_ *tracing.Runs
	_ any
	_ time.Time
}

//go:noinline
func startNothing(ctx context.Context, name string, id digest.Digest, res ebb.Resources, allocID string) (context.Context, nothing) {
	return ctx, nothing{}
}

//go:noinline
func (nothing) end(pool.Result, error) {}

// BenchmarkAllocateFree measures an Allocate and a Free through a static
// cluster over a memory pool, unwrapped and wrapped.
func BenchmarkAllocateFree(b *testing.B) {
	p := pooltest.NewPool(pooltest.PoolConfig{Lease: time.Hour})
	b.Cleanup(func() { p.Close() })
	inner := cluster.NewStatic(p)
	req := ebb.Requirements{Min: cpus(1)}
	labels := ebb.Labels{"run": "r"}
	run := func(b *testing.B, c cluster.Cluster) {
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			a, err := c.Allocate(ctx, req, labels)
			if err != nil {
				b.Fatal(err)
			}
			if err := a.Free(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("unwrapped", func(b *testing.B) { run(b, inner) })
	for _, bc := range benchConfigs(b) {
		b.Run(bc.name, func(b *testing.B) { run(b, tracing.Wrap(inner, bc.cfg)) })
	}
}
