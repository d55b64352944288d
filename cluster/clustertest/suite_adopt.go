package clustertest

import (
	"slices"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/internal/proctest"
	"github.com/ebbflow/ebb/pool"
)

// testAdopt checks that a provider made again with the same configuration
// adopts the live workers of the first, as a resumed driver's does: it
// lists them, their pools answer with the allocs taken before, with the
// lease they had, and Terminate through it stops them.
func (s *providerSuite) testAdopt(t *testing.T) {
	if s.Again == nil {
		t.Skip("SuiteConfig.Again is nil: adoption is not checked")
	}
	p, ctx := s.provider(t)
	w := s.launch(t, ctx, p, ebb.Labels{"clustertest": "adopt"})
	shape := s.shape(t, p)
	a, err := pool.Allocate(ctx, w.Pool, ebb.Requirements{Min: shape.Resources.Scale(0.5)}, ebb.Labels{"clustertest": "adopt"})
	if err != nil {
		t.Fatalf("worker %s: Allocate: %v", w.ID, err)
	}
	if _, err := a.Keepalive(ctx, time.Minute); err != nil {
		t.Fatalf("worker %s: Keepalive: %v", w.ID, err)
	}

	again := s.Again(t, p)
	if again == nil {
		t.Fatal("SuiteConfig.Again returned a nil provider")
	}
	ws, err := again.Workers(ctx)
	if err != nil {
		t.Fatalf("Workers of the second provider: %v", err)
	}
	i := slices.IndexFunc(ws, func(x cluster.Worker) bool { return x.ID == w.ID })
	if i < 0 {
		t.Fatalf("Workers of the second provider = %v, want the first one's live worker %s", workerIDs(ws), w.ID)
	}
	got := ws[i]
	if got.Shape.Name != shape.Name || got.Pool == nil {
		t.Fatalf("the second provider lists %s with shape %q and pool %v, want shape %q and a pool", w.ID, got.Shape.Name, got.Pool, shape.Name)
	}
	b, err := got.Pool.Alloc(ctx, a.ID())
	if err != nil {
		t.Fatalf("adopted worker %s: Alloc(%s): %v, want the alloc taken through the first provider", w.ID, a.ID(), err)
	}
	if _, err := b.Keepalive(ctx, time.Minute); err != nil {
		t.Errorf("adopted worker %s: Keepalive of alloc %s: %v", w.ID, a.ID(), err)
	}
	if ws2, err := again.Workers(ctx); err != nil || len(ws2) != len(ws) {
		t.Errorf("Workers of the second provider, again = %v, %v; want %v: a worker is adopted once", workerIDs(ws2), err, workerIDs(ws))
	}

	if err := again.Terminate(ctx, w.ID); err != nil {
		t.Fatalf("Terminate(%s) through the second provider: %v", w.ID, err)
	}
	if ws, err := again.Workers(ctx); err != nil || slices.Contains(workerIDs(ws), w.ID) {
		t.Errorf("Workers of the second provider after Terminate(%s) = %v, %v; want it gone", w.ID, workerIDs(ws), err)
	}
	// Terminate may return while the worker stops: its allocs end soon.
	ended := proctest.Eventually(s.Timeout/2, func() bool {
		_, err := a.Keepalive(ctx, time.Minute)
		return err != nil
	})
	if !ended {
		t.Errorf("alloc %s of the terminated worker %s still renews its lease", a.ID(), w.ID)
	}
}
