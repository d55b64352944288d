package tracing_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
	"go.opentelemetry.io/otel/attribute"
)

func outcome(o string) attribute.KeyValue  { return attribute.String("outcome", o) }
func resource(k string) attribute.KeyValue { return attribute.String("resource", k) }

// held checks the allocs and resources held, as the metrics say.
func wantHeld(t *testing.T, tel *telemetry, allocs int, res ebb.Resources) {
	t.Helper()
	rm := tel.collect(t)
	if got := sum(t, rm, "ebb.allocs.held"); got != float64(allocs) {
		t.Errorf("ebb.allocs.held = %v, want %d", got, allocs)
	}
	for _, k := range []string{ebb.CPU, ebb.Mem} {
		if got := sum(t, rm, "ebb.resources.held", resource(k)); !near(got, res[k]) {
			t.Errorf("ebb.resources.held{resource=%s} = %v, want %v", k, got, res[k])
		}
	}
}

func TestMetricsHeld(t *testing.T) {
	tel := newTelemetry(t)
	c, p := newCluster(t, tel.config(), pooltest.PoolConfig{
		ID:    "mem",
		Nodes: []ebb.Resources{{ebb.CPU: 4, ebb.Mem: 8 << 30}, {ebb.CPU: 8}},
		Lease: time.Hour,
	})
	a, err := c.Allocate(t.Context(), ebb.Requirements{Min: ebb.Resources{ebb.CPU: 2, ebb.Mem: 1 << 30}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Allocate(t.Context(), ebb.Requirements{Min: cpus(8)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantHeld(t, tel, 2, ebb.Resources{ebb.CPU: 10, ebb.Mem: 1 << 30})
	rm := tel.collect(t)
	if n := histCount(t, rm, "ebb.allocate.duration", outcome("granted"), attribute.String("ebb.pool", "mem")); n != 2 {
		t.Errorf("%d granted latencies, want 2", n)
	}
	if got := sum(t, rm, "ebb.allocate.active"); got != 0 {
		t.Errorf("ebb.allocate.active = %v after both returned, want 0", got)
	}

	if err := a.Free(t.Context()); err != nil {
		t.Fatal(err)
	}
	wantHeld(t, tel, 1, cpus(8))

	// b is lost with its node; the next call on it finds out.
	if err := p.Kill(b.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Keepalive(t.Context(), time.Minute); !errors.Is(err, ebb.ErrExpired) {
		t.Fatalf("Keepalive of a killed alloc = %v", err)
	}
	wantHeld(t, tel, 0, nil)
	// Once: later failures uncount nothing more.
	if err := b.Free(t.Context()); !errors.Is(err, ebb.ErrExpired) {
		t.Fatalf("Free of a killed alloc = %v", err)
	}
	if err := a.Free(t.Context()); !errors.Is(err, ebb.ErrExpired) {
		t.Fatalf("second Free = %v", err)
	}
	wantHeld(t, tel, 0, nil)

	// A failing Allocate is one more latency, and holds nothing.
	if _, err := c.Allocate(t.Context(), ebb.Requirements{Min: cpus(100)}, nil); !errors.Is(err, ebb.ErrResources) {
		t.Fatal(err)
	}
	rm = tel.collect(t)
	if n := histCount(t, rm, "ebb.allocate.duration"); n != 3 {
		t.Errorf("%d latencies after 3 Allocates, want 3", n)
	}
	if n := histCount(t, rm, "ebb.allocate.duration", outcome("failed")); n != 1 {
		t.Errorf("%d failed latencies, want 1", n)
	}
	wantHeld(t, tel, 0, nil)
}

func TestMetricsActive(t *testing.T) {
	tel := newTelemetry(t)
	c, p := newCluster(t, tel.config(), pooltest.PoolConfig{Lease: time.Hour})
	gate := p.Hold(pooltest.OpOffers)
	done := make(chan error)
	for range 3 {
		go func() {
			_, err := c.Allocate(t.Context(), ebb.Requirements{Min: cpus(1)}, nil)
			done <- err
		}()
	}
	if err := gate.Arrived(t.Context(), 3); err != nil {
		t.Fatal(err)
	}
	if got := sum(t, tel.collect(t), "ebb.allocate.active"); got != 3 {
		t.Errorf("ebb.allocate.active = %v with 3 Allocates waiting, want 3", got)
	}
	gate.Open()
	for range 3 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	rm := tel.collect(t)
	if got := sum(t, rm, "ebb.allocate.active"); got != 0 {
		t.Errorf("ebb.allocate.active = %v after they returned, want 0", got)
	}
	if n := histCount(t, rm, "ebb.allocate.duration"); n != 3 {
		t.Errorf("%d latencies, want 3", n)
	}
}

// An alloc whose lease lapsed is uncounted by the Free that finds it gone,
// once.
func TestMetricsExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tel := newTelemetry(t)
		c, _ := newCluster(t, tel.config(), pooltest.PoolConfig{Lease: time.Minute})
		a, err := c.Allocate(t.Context(), ebb.Requirements{Min: cpus(3)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		wantHeld(t, tel, 1, cpus(3))
		time.Sleep(2 * time.Minute)
		// The pool took it back, but nobody has asked yet.
		wantHeld(t, tel, 1, cpus(3))
		for range 2 {
			if err := a.Free(t.Context()); !errors.Is(err, ebb.ErrExpired) {
				t.Fatalf("Free of an expired alloc = %v", err)
			}
			wantHeld(t, tel, 0, nil)
		}
		wantError(t, tel.spans("ebb.Alloc.Free")[0])
	})
}

// Resource-minutes accrue at every renewal and at the end: up to Free for a
// freed alloc, up to its last lease's end for a lost one.
func TestResourceMinutes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tel := newTelemetry(t)
		c, _ := newCluster(t, tel.config(), pooltest.PoolConfig{
			Nodes: []ebb.Resources{{ebb.CPU: 4, ebb.Mem: 8 << 30}},
			Lease: time.Minute,
		})
		minutes := func(k string) float64 {
			return sum(t, tel.collect(t), "ebb.resources.minutes", resource(k))
		}
		a, err := c.Allocate(t.Context(), ebb.Requirements{Min: ebb.Resources{ebb.CPU: 2, ebb.Mem: 1 << 30}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			time.Sleep(30 * time.Second)
			if _, err := a.Keepalive(t.Context(), time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		// Ten minutes held, observable while held.
		if got := minutes(ebb.CPU); !near(got, 20) {
			t.Errorf("cpu-minutes after 10 minutes of 2 cpu = %v, want 20", got)
		}
		if got := minutes(ebb.Mem); !near(got, 10<<30) {
			t.Errorf("mem-minutes after 10 minutes of 1 GiB = %v, want %v", got, 10<<30)
		}
		time.Sleep(15 * time.Second)
		if err := a.Free(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := minutes(ebb.CPU); !near(got, 20.5) {
			t.Errorf("cpu-minutes after Free at 10:15 = %v, want 20.5", got)
		}

		// A lost alloc is charged up to the end of its last lease, not to
		// when its loss was found.
		b, err := c.Allocate(t.Context(), ebb.Requirements{Min: cpus(1)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Second)
		if _, err := b.Keepalive(t.Context(), time.Minute); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Minute)
		if _, err := b.Keepalive(t.Context(), time.Minute); !errors.Is(err, ebb.ErrExpired) {
			t.Fatalf("Keepalive after the lease lapsed = %v", err)
		}
		if got := minutes(ebb.CPU); !near(got, 20.5+1.5) {
			t.Errorf("cpu-minutes = %v, want %v: 1.5 for the lost alloc (30s, then a 1-minute lease)", got, 20.5+1.5)
		}
		// Nothing more after the end.
		time.Sleep(time.Hour)
		b.Free(t.Context())
		if got := minutes(ebb.CPU); !near(got, 22) {
			t.Errorf("cpu-minutes an hour after the end = %v, want 22", got)
		}
	})
}

// Re-attaching counts an alloc once; listing does not count; whichever
// wrapper frees it uncounts it, once.
func TestMetricsReattach(t *testing.T) {
	tel := newTelemetry(t)
	c, p := newCluster(t, tel.config(), pooltest.PoolConfig{Nodes: []ebb.Resources{cpus(8)}, Lease: time.Hour})
	a, err := c.Allocate(t.Context(), ebb.Requirements{Min: cpus(1)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Alloc(t.Context(), a.ID())
	if err != nil {
		t.Fatal(err)
	}
	wantHeld(t, tel, 1, cpus(1))

	// An alloc taken around the tracing cluster: listed, not held.
	other, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: cpus(2)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if all, err := c.Allocs(t.Context()); err != nil || len(all) != 2 {
		t.Fatalf("Allocs = %v, %v", all, err)
	}
	wantHeld(t, tel, 1, cpus(1))
	// Re-attached (a resumed driver), it is held.
	if _, err := c.Alloc(t.Context(), other.ID()); err != nil {
		t.Fatal(err)
	}
	wantHeld(t, tel, 2, cpus(3))

	if err := again.Free(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := a.Free(t.Context()); !errors.Is(err, ebb.ErrExpired) {
		t.Fatalf("Free through the first wrapper = %v", err)
	}
	wantHeld(t, tel, 1, cpus(2))

	// Freed around the tracing cluster: the next look finds it gone.
	if err := other.Free(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Alloc(t.Context(), other.ID()); !errors.Is(err, ebb.ErrNotExist) {
		t.Fatalf("Alloc of a freed alloc = %v", err)
	}
	wantHeld(t, tel, 0, nil)
}

// An exec call that finds the alloc expired uncounts it.
func TestMetricsPutExpired(t *testing.T) {
	tel := newTelemetry(t)
	c, p := newCluster(t, tel.config(), pooltest.PoolConfig{Lease: time.Hour})
	a, err := c.Allocate(t.Context(), ebb.Requirements{Min: cpus(1)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Kill(a.ID())
	_, err = a.Put(t.Context(), ebb.NewDigester().Digest(), pool.ExecConfig{
		Func:      func(context.Context, ebb.FuncEnv) error { return nil },
		Resources: cpus(1),
	})
	if !errors.Is(err, ebb.ErrExpired) {
		t.Fatalf("Put on a killed alloc = %v", err)
	}
	wantHeld(t, tel, 0, nil)
}

// Under concurrent grants, double frees and keepalives, every alloc is
// counted once and uncounted once.
func TestMetricsConcurrent(t *testing.T) {
	tel := newTelemetry(t)
	c, _ := newCluster(t, tel.config(), pooltest.PoolConfig{Nodes: []ebb.Resources{cpus(16)}, Lease: time.Hour})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 20 {
				a, err := c.Allocate(t.Context(), ebb.Requirements{Min: cpus(1)}, nil)
				if err != nil {
					t.Error(err)
					return
				}
				var inner sync.WaitGroup
				inner.Go(func() { a.Keepalive(t.Context(), time.Hour) })
				inner.Go(func() { a.Free(t.Context()) })
				inner.Go(func() { a.Free(t.Context()) })
				inner.Wait()
			}
		})
	}
	wg.Wait()
	wantHeld(t, tel, 0, nil)
	if n := histCount(t, tel.collect(t), "ebb.allocate.duration"); n != 16*20 {
		t.Errorf("%d latencies, want %d", n, 16*20)
	}
}
