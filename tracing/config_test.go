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
	"go.opentelemetry.io/otel"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// With nothing to record, Wrap returns the cluster itself.
func TestWrapOff(t *testing.T) {
	p := pooltest.NewPool(pooltest.PoolConfig{Lease: time.Hour})
	defer p.Close()
	inner := cluster.NewStatic(p)
	for name, cfg := range map[string]tracing.Config{
		"zero": {},
		"noop": {TracerProvider: tracenoop.NewTracerProvider(), MeterProvider: metricnoop.NewMeterProvider()},
	} {
		t.Run(name, func(t *testing.T) {
			c := tracing.Wrap(inner, cfg)
			if c != cluster.Cluster(inner) {
				t.Errorf("Wrap(c, %s Config) = %T, want c itself", name, c)
			}
			a, err := c.Allocate(t.Context(), ebb.Requirements{Min: cpus(1)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Free(t.Context()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestWrapNil(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Wrap(nil) did not panic")
		}
	}()
	tracing.Wrap(nil, tracing.Config{})
}

func TestUnwrap(t *testing.T) {
	tel := newTelemetry(t)
	p := pooltest.NewPool(pooltest.PoolConfig{})
	defer p.Close()
	inner := cluster.NewStatic(p)
	c := tracing.Wrap(inner, tel.config())
	u, ok := c.(interface{ Unwrap() cluster.Cluster })
	if !ok || u.Unwrap() != cluster.Cluster(inner) {
		t.Fatalf("Wrap's %T does not unwrap to the inner cluster", c)
	}
	if c.ID() != inner.ID() {
		t.Errorf("ID %q, want the inner cluster's %q", c.ID(), inner.ID())
	}
	offers, err := c.Offers(t.Context())
	if err != nil || len(offers) != 1 {
		t.Fatalf("Offers = %v, %v", offers, err)
	}
	if _, ok := offers[0].(interface{ Unwrap() pool.Offer }); !ok {
		t.Errorf("offer %T is not wrapped", offers[0])
	}
}

// Nothing reads or writes OpenTelemetry's global providers: with globals
// set to recording providers, neither a zero Config nor an explicit one
// sends anything to them.
func TestNoGlobalProviders(t *testing.T) {
	global := newTelemetry(t)
	otel.SetTracerProvider(global.tp)
	otel.SetMeterProvider(global.mp)
	defer func() {
		otel.SetTracerProvider(tracenoop.NewTracerProvider())
		otel.SetMeterProvider(metricnoop.NewMeterProvider())
	}()

	own := newTelemetry(t)
	for _, cfg := range []tracing.Config{{}, own.config()} {
		c, _ := newCluster(t, cfg, pooltest.PoolConfig{Lease: time.Hour})
		a, err := c.Allocate(t.Context(), ebb.Requirements{Min: cpus(1)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Keepalive(t.Context(), time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := a.Free(t.Context()); err != nil {
			t.Fatal(err)
		}
		runs := tracing.NewRuns(cfg)
		ctx, run := runs.StartRun(context.Background(), "r", "p")
		_, task := runs.StartTask(ctx, "t", taskDigest, nil, a.ID())
		task.End(pool.Result{}, nil)
		run.End(nil)
	}
	if n := len(global.rec.Ended()); n != 0 {
		t.Errorf("the global tracer provider got %d spans: %v", n, names(global.rec.Ended()))
	}
	if rm := global.collect(t); len(rm.ScopeMetrics) != 0 {
		t.Errorf("the global meter provider got metrics: %+v", rm.ScopeMetrics)
	}
	if n := len(own.rec.Ended()); n != 5 {
		t.Errorf("the configured provider got %d spans, want 5: %v", n, names(own.rec.Ended()))
	}
	if otel.GetTracerProvider() != global.tp {
		t.Errorf("the global tracer provider was replaced")
	}
}

// sized is a cluster that says what its nodes hold.
type sized struct {
	cluster.Cluster
}

func (sized) Sizes() []ebb.Resources { return []ebb.Resources{cpus(8)} }

// The wrapper passes on what the wrapped cluster says its nodes hold, so
// that a stealer over a traced Elastic still asks for no more than a
// node holds.
func TestWrapSizes(t *testing.T) {
	tel := newTelemetry(t)
	p := pooltest.NewPool(pooltest.PoolConfig{})
	defer p.Close()
	c := tracing.Wrap(sized{cluster.NewStatic(p)}, tel.config())
	z, ok := c.(interface{ Sizes() []ebb.Resources })
	if !ok || len(z.Sizes()) != 1 || !z.Sizes()[0].Equal(cpus(8)) {
		t.Errorf("Wrap's %T does not pass Sizes on", c)
	}
	if s := tracing.Wrap(cluster.NewStatic(p), tel.config()).(interface{ Sizes() []ebb.Resources }).Sizes(); s != nil {
		t.Errorf("Sizes of a wrapped cluster that says nothing: %v, want nil", s)
	}
}
