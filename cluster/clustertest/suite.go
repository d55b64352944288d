package clustertest

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
)

// SuiteConfig says how [RunProvider] makes the provider under test.
type SuiteConfig struct {
	// New returns a fresh provider: one whose Workers lists none. Run
	// calls it once per subtest, with that subtest's t, and New registers
	// whatever releases the provider with t.Cleanup. Required.
	New func(t *testing.T) cluster.Provider

	// Shape picks the shape the suite launches; default the cheapest
	// (then the smallest) of Shapes.
	Shape func(shapes []cluster.Shape) cluster.Shape

	// Timeout bounds each subtest, launches included; default ten
	// minutes.
	Timeout time.Duration

	// Again returns a second provider with the configuration of p, as a
	// driver resumed after p's died would make it: the same directory of
	// records, the same job prefix or labels. It registers whatever
	// releases it with t.Cleanup, and must not stop p's workers. The
	// Adopt subtest needs it; without it, Adopt is skipped.
	Again func(t *testing.T, p cluster.Provider) cluster.Provider
}

// RunProvider checks that the providers cfg.New makes keep the
// [cluster.Provider] contract, reporting every breach as a failure of a
// named subtest:
//
//	Shapes            shapes are listed, valid, uniquely named, and copied
//	Launch/Up         a worker comes up with a new valid ID, the shape asked
//	                  for, and a pool within the shape; Workers lists it
//	Launch/Cancelled  a Launch whose context is done leaves nothing behind
//	Launch/Unknown    a shape the provider does not have is ErrInvalid
//	Terminate/Gone    the worker is no longer listed; again is nil
//	Terminate/Unknown terminating a worker that never was is nil
//	Adopt             a second provider of the same configuration (Again)
//	                  lists the first one's live worker, whose pool answers
//	                  with the alloc taken before; terminating it there
//	                  ends it for both
//
// The subtests launch real workers of one shape (see SuiteConfig.Shape),
// one at a time, and run on real time. RunProvider must not be called in a
// testing/synctest bubble unless the provider's launches run in one.
func RunProvider(t *testing.T, cfg SuiteConfig) {
	t.Helper()
	if cfg.New == nil {
		t.Fatal("clustertest.RunProvider: SuiteConfig.New is nil")
	}
	if cfg.Shape == nil {
		cfg.Shape = cheapestShape
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	s := &providerSuite{cfg}
	t.Run("Shapes", s.testShapes)
	t.Run("Launch", func(t *testing.T) {
		t.Run("Up", s.testLaunch)
		t.Run("Cancelled", s.testLaunchCancelled)
		t.Run("Unknown", s.testLaunchUnknown)
	})
	t.Run("Terminate", func(t *testing.T) {
		t.Run("Gone", s.testTerminate)
		t.Run("Unknown", s.testTerminateUnknown)
	})
	t.Run("Adopt", s.testAdopt)
}

func cheapestShape(shapes []cluster.Shape) cluster.Shape {
	return slices.MinFunc(shapes, func(a, b cluster.Shape) int {
		if c := cmp.Compare(a.Price, b.Price); c != 0 {
			return c
		}
		return cmp.Compare(a.Resources.Size(), b.Resources.Size())
	})
}

type providerSuite struct {
	SuiteConfig
}

// provider makes a fresh provider and a context bounded by Timeout.
func (s *providerSuite) provider(t *testing.T) (cluster.Provider, context.Context) {
	t.Helper()
	p := s.New(t)
	if p == nil {
		t.Fatal("SuiteConfig.New returned a nil provider")
	}
	ctx, cancel := context.WithTimeout(t.Context(), s.Timeout)
	t.Cleanup(cancel)
	if ws, err := p.Workers(ctx); err != nil || len(ws) != 0 {
		t.Fatalf("Workers of a fresh provider = %v, %v; want none", workerIDs(ws), err)
	}
	return p, ctx
}

// shape returns the shape to launch.
func (s *providerSuite) shape(t *testing.T, p cluster.Provider) cluster.Shape {
	t.Helper()
	shapes := p.Shapes()
	if len(shapes) == 0 {
		t.Fatal("Shapes: none")
	}
	return s.Shape(shapes)
}

// launch launches a worker of the suite's shape, and terminates it when
// the subtest ends.
func (s *providerSuite) launch(t *testing.T, ctx context.Context, p cluster.Provider, labels ebb.Labels) cluster.Worker {
	t.Helper()
	shape := s.shape(t, p)
	w, err := p.Launch(ctx, shape, labels)
	if err != nil {
		t.Fatalf("Launch(%v, %v): %v", shape, labels, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
		defer cancel()
		if err := p.Terminate(ctx, w.ID); err != nil {
			t.Errorf("cleanup: Terminate(%s): %v", w.ID, err)
		}
	})
	return w
}

func workerIDs(ws []cluster.Worker) []cluster.WorkerID {
	ids := make([]cluster.WorkerID, len(ws))
	for i, w := range ws {
		ids[i] = w.ID
	}
	return ids
}

func (s *providerSuite) testShapes(t *testing.T) {
	p, _ := s.provider(t)
	shapes := p.Shapes()
	if len(shapes) == 0 {
		t.Fatal("Shapes: none, want at least one")
	}
	names := make(map[string]bool)
	for i, sh := range shapes {
		if err := sh.Validate(); err != nil {
			t.Errorf("Shapes()[%d]: %v", i, err)
		}
		if names[sh.Name] {
			t.Errorf("Shapes: name %q given twice", sh.Name)
		}
		names[sh.Name] = true
		if sh.Resources != nil {
			sh.Resources["clustertest-scribble"] = 1
		}
	}
	for i, sh := range p.Shapes() {
		if sh.Resources["clustertest-scribble"] != 0 {
			t.Errorf("Shapes()[%d] changed when the caller wrote to an earlier result", i)
		}
	}
}

func (s *providerSuite) testLaunch(t *testing.T) {
	p, ctx := s.provider(t)
	shape := s.shape(t, p)
	labels := ebb.Labels{"clustertest": "launch"}
	w := s.launch(t, ctx, p, labels)
	if err := w.ID.Validate(); err != nil {
		t.Errorf("Launch returned worker ID %q: %v", w.ID, err)
	}
	if w.Shape.Name != shape.Name {
		t.Errorf("Launch(%s) returned a worker of shape %q", shape.Name, w.Shape.Name)
	}
	if w.Pool == nil {
		t.Fatal("Launch returned a worker with a nil Pool")
	}
	caps, err := w.Pool.Capacity(ctx)
	if err != nil {
		t.Fatalf("worker %s: Pool.Capacity: %v", w.ID, err)
	}
	if len(caps) == 0 {
		t.Errorf("worker %s: Pool.Capacity lists no node", w.ID)
	}
	for i, c := range caps {
		if !c.Fits(shape.Resources) {
			t.Errorf("worker %s: Pool.Capacity()[%d] = %v, beyond its shape %v", w.ID, i, c, shape.Resources)
		}
	}
	offers, err := w.Pool.Offers(ctx)
	if err != nil || len(offers) == 0 {
		t.Errorf("worker %s: Pool.Offers of a fresh worker = %d offers, %v; want its capacity on offer", w.ID, len(offers), err)
	}
	ws, err := p.Workers(ctx)
	if err != nil {
		t.Fatalf("Workers: %v", err)
	}
	i := slices.IndexFunc(ws, func(x cluster.Worker) bool { return x.ID == w.ID })
	if i < 0 {
		t.Fatalf("Workers = %v, want it to list the launched worker %s", workerIDs(ws), w.ID)
	}
	if ws[i].Shape.Name != shape.Name || ws[i].Pool == nil {
		t.Errorf("Workers lists %s with shape %q and pool %v, want shape %q and a pool", w.ID, ws[i].Shape.Name, ws[i].Pool, shape.Name)
	}

	second := s.launch(t, ctx, p, nil)
	if second.ID == w.ID {
		t.Errorf("two launches returned the same worker ID %q", w.ID)
	}
}

func (s *providerSuite) testLaunchCancelled(t *testing.T) {
	p, ctx := s.provider(t)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	w, err := p.Launch(cctx, s.shape(t, p), nil)
	if err == nil {
		p.Terminate(ctx, w.ID)
		t.Fatalf("Launch with a cancelled context returned worker %s, want an error", w.ID)
	}
	if ws, err := p.Workers(ctx); err != nil || len(ws) != 0 {
		t.Errorf("Workers after a cancelled Launch = %v, %v; want none", workerIDs(ws), err)
	}
}

func (s *providerSuite) testLaunchUnknown(t *testing.T) {
	p, ctx := s.provider(t)
	shape := s.shape(t, p)
	shape.Name = "clustertest-no-such-shape"
	w, err := p.Launch(ctx, shape, nil)
	if !errors.Is(err, ebb.ErrInvalid) {
		if err == nil {
			p.Terminate(ctx, w.ID)
		}
		t.Errorf("Launch of an unknown shape: %v, want an error wrapping ebb.ErrInvalid", err)
	}
	if ws, err := p.Workers(ctx); err != nil || len(ws) != 0 {
		t.Errorf("Workers after a failed Launch = %v, %v; want none", workerIDs(ws), err)
	}
}

func (s *providerSuite) testTerminate(t *testing.T) {
	p, ctx := s.provider(t)
	w := s.launch(t, ctx, p, nil)
	if err := p.Terminate(ctx, w.ID); err != nil {
		t.Fatalf("Terminate(%s): %v", w.ID, err)
	}
	if ws, err := p.Workers(ctx); err != nil || slices.Contains(workerIDs(ws), w.ID) {
		t.Errorf("Workers after Terminate(%s) = %v, %v; want it gone", w.ID, workerIDs(ws), err)
	}
	if err := p.Terminate(ctx, w.ID); err != nil {
		t.Errorf("second Terminate(%s): %v, want nil (Terminate is idempotent)", w.ID, err)
	}
}

func (s *providerSuite) testTerminateUnknown(t *testing.T) {
	p, ctx := s.provider(t)
	if err := p.Terminate(ctx, "clustertest-nobody"); err != nil {
		t.Errorf("Terminate of a worker that never was: %v, want nil", err)
	}
}
