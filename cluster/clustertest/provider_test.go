package clustertest_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/clustertest"
)

func TestProviderLaunch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p := clustertest.NewProvider(clustertest.ProviderConfig{LaunchTime: time.Minute})
		defer p.Close()
		shapes := p.Shapes()
		if len(shapes) != 1 || shapes[0].Name != "small" {
			t.Fatalf("Shapes = %v, want the default", shapes)
		}
		start := time.Now()
		w, err := p.Launch(ctx, shapes[0], ebb.Labels{"run": "r1"})
		if err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took != time.Minute {
			t.Errorf("Launch took %v, want LaunchTime", took)
		}
		if w.ID != "w1" || w.Shape.Name != "small" || w.Labels.String() != "run=r1" || w.Pool.ID() != "w1" {
			t.Errorf("worker = %+v", w)
		}
		caps, err := w.Pool.Capacity(ctx)
		if err != nil || len(caps) != 1 || !caps[0].Equal(shapes[0].Resources) {
			t.Errorf("worker's pool Capacity = %v, %v; want the shape", caps, err)
		}
		if p.Pool(w.ID) == nil {
			t.Error("Pool(w1) = nil")
		}
		ws, _ := p.Workers(ctx)
		if len(ws) != 1 || ws[0].ID != w.ID {
			t.Errorf("Workers = %v, want w1", ws)
		}
		if err := p.Terminate(ctx, w.ID); err != nil {
			t.Fatal(err)
		}
		if err := p.Terminate(ctx, w.ID); err != nil {
			t.Errorf("second Terminate: %v, want nil", err)
		}
		if err := p.Terminate(ctx, "nobody"); err != nil {
			t.Errorf("Terminate of an unknown worker: %v, want nil", err)
		}
		if _, err := w.Pool.Offers(ctx); !errors.Is(err, ebb.ErrClosed) {
			t.Errorf("Offers of a terminated worker: %v, want ErrClosed", err)
		}
		if ws, _ := p.Workers(ctx); len(ws) != 0 {
			t.Errorf("Workers after Terminate = %v, want none", ws)
		}
		st := p.Stats()
		if st.Launches != 1 || st.Launched != 1 || st.Terminated != 1 || st.Live != 0 {
			t.Errorf("Stats = %+v", st)
		}
	})
}

func TestProviderLaunchCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := clustertest.NewProvider(clustertest.ProviderConfig{LaunchTime: time.Minute})
		defer p.Close()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if _, err := p.Launch(ctx, p.Shapes()[0], nil); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Launch cut short: %v, want DeadlineExceeded", err)
		}
		if ws, _ := p.Workers(t.Context()); len(ws) != 0 {
			t.Errorf("Workers after a cancelled launch = %v, want none", ws)
		}
		if st := p.Stats(); st.Cancelled != 1 || st.Live != 0 {
			t.Errorf("Stats = %+v", st)
		}
	})
}

func TestProviderFailNext(t *testing.T) {
	ctx := t.Context()
	p := clustertest.NewProvider(clustertest.ProviderConfig{})
	defer p.Close()
	p.FailNext("small", ebb.ErrUnavailable)
	p.FailNext("small", ebb.ErrResources)
	s := p.Shapes()[0]
	if _, err := p.Launch(ctx, s, nil); !errors.Is(err, ebb.ErrUnavailable) {
		t.Errorf("first Launch: %v, want ErrUnavailable", err)
	}
	if _, err := p.Launch(ctx, s, nil); !errors.Is(err, ebb.ErrResources) {
		t.Errorf("second Launch: %v, want ErrResources", err)
	}
	if _, err := p.Launch(ctx, s, nil); err != nil {
		t.Errorf("third Launch: %v", err)
	}
	if _, err := p.Launch(ctx, cluster.Shape{Name: "huge", Resources: cpu(1000)}, nil); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("Launch of an unknown shape: %v, want ErrInvalid", err)
	}
	if st := p.Stats(); st.Launches != 4 || st.Failed != 3 || st.Launched != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestProviderWaitFor(t *testing.T) {
	ctx := t.Context()
	p := clustertest.NewProvider(clustertest.ProviderConfig{})
	defer p.Close()
	go p.Add("small")
	st, err := p.WaitFor(ctx, func(st clustertest.ProviderStats) bool { return st.Live == 1 })
	if err != nil || st.Live != 1 {
		t.Errorf("WaitFor = %+v, %v", st, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.WaitFor(cctx, func(st clustertest.ProviderStats) bool { return st.Live == 2 }); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitFor that never holds: %v, want context.Canceled", err)
	}
}
