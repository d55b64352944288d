package tracing_test

import (
	"context"
	"fmt"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
	"github.com/ebbflow/ebb/tracing"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func ExampleWrap() {
	ctx := context.Background()
	p := pooltest.NewPool(pooltest.PoolConfig{Nodes: []ebb.Resources{{ebb.CPU: 8}}})
	defer p.Close()

	// A tracer provider that keeps the spans in memory; a program would
	// give one that exports them.
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(ctx)

	c := tracing.Wrap(cluster.NewStatic(p), tracing.Config{TracerProvider: tp})
	a, err := c.Allocate(ctx, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 2}}, ebb.Labels{"run": "example"})
	if err != nil {
		panic(err)
	}
	if err := a.Free(ctx); err != nil {
		panic(err)
	}

	for _, s := range rec.Ended() {
		fmt.Println(s.Name())
		attrs := attribute.NewSet(s.Attributes()...) // sorted by key
		for _, key := range []attribute.Key{"ebb.label.run", "ebb.resources.cpu"} {
			if v, ok := attrs.Value(key); ok {
				fmt.Printf("  %s=%s\n", key, v.Emit())
			}
		}
	}
	// Output:
	// ebb.Cluster.Allocate
	//   ebb.label.run=example
	//   ebb.resources.cpu=2
	// ebb.Alloc.Free
}

func ExampleRuns() {
	ctx := context.Background()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(ctx)

	runs := tracing.NewRuns(tracing.Config{TracerProvider: tp})
	ctx, run := runs.StartRun(ctx, "sha256:0123", "wordcount")
	run.Phase("eval")
	_, task := runs.StartTask(ctx, "count", "sha256:4567", ebb.Resources{ebb.CPU: 1}, "alloc-1")
	// ... Put the exec and Wait for its result ...
	task.End(pool.Result{ExitCode: 0}, nil)
	run.End(nil)

	for _, s := range rec.Ended() {
		fmt.Println(s.Name(), s.Status().Code)
	}
	// Output:
	// ebb.Task Unset
	// ebb.Run Unset
}
