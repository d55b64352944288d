package runner

import (
	"context"
	"testing"

	"github.com/ebbflow/ebb/tracing"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// A traced run records a span for the run and one per task run, children
// of the run's.
func TestRunIsTraced(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	var c counter
	p := memPool(t)
	r, err := New(Config{Flow: c.diamond(3, oneCPU), Cluster: static(p), Tracing: tracing.Config{TracerProvider: tp}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	spans := rec.Ended()
	var run sdktrace.ReadOnlySpan
	tasks := 0
	for _, s := range spans {
		switch s.Name() {
		case "ebb.Run":
			run = s
		case "ebb.Task":
			tasks++
		}
	}
	if run == nil {
		t.Fatalf("no run span among %d spans", len(spans))
	}
	if tasks != 5 {
		t.Errorf("%d task spans, want 5", tasks)
	}
	for _, s := range spans {
		if s.Name() == "ebb.Task" && s.Parent().SpanID() != run.SpanContext().SpanID() {
			t.Errorf("task span %v is not a child of the run span", s.Attributes())
		}
	}
}
