package procs

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/internal/proctest"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository"
)

// TestLaunchFails checks launches that cannot succeed: a worker that
// exits at once fails with ErrUnavailable, and one that never prints its
// line is killed when the launch's context ends. Neither leaves a process
// or a worker behind.
func TestLaunchFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	exits := newProvider(t, Config{Command: []string{"/bin/false"}})
	if _, err := exits.Launch(ctx, exits.Shapes()[0], nil); !errors.Is(err, ebb.ErrUnavailable) {
		t.Errorf("Launch of a worker that exits at once: %v, want ErrUnavailable", err)
	}
	missing := newProvider(t, Config{Command: []string{"/no/such/ebb"}})
	if _, err := missing.Launch(ctx, missing.Shapes()[0], nil); !errors.Is(err, ebb.ErrUnavailable) {
		t.Errorf("Launch of a missing command: %v, want ErrUnavailable", err)
	}

	marker := sleepMarker(6161)
	silent := newProvider(t, Config{Command: []string{"sh", "-c", "echo not the line; exec sleep " + marker, "sh"}})
	lctx, lcancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer lcancel()
	if _, err := silent.Launch(lctx, silent.Shapes()[0], nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Launch of a worker that never listens: %v, want the context's error", err)
	}
	if pids := processesWith(marker); len(pids) > 0 {
		t.Errorf("a cancelled launch left its process: %v", pids)
	}
	checkNoChildren(t)
	for _, p := range []*Provider{exits, missing, silent} {
		if ws, err := p.Workers(ctx); err != nil || len(ws) != 0 {
			t.Errorf("Workers after failed launches = %v, %v; want none", ws, err)
		}
	}
}

// TestClose checks that Close terminates every worker and that a closed
// provider launches nothing.
func TestClose(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := newProvider(t, Config{})
	for range 2 {
		if _, err := p.Launch(ctx, p.Shapes()[0], nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkNoChildren(t)
	if ws, _ := p.Workers(ctx); len(ws) != 0 {
		t.Errorf("Workers after Close = %v, want none", ws)
	}
	if _, err := p.Launch(ctx, p.Shapes()[0], nil); !errors.Is(err, ebb.ErrClosed) {
		t.Errorf("Launch after Close: %v, want ErrClosed", err)
	}
}

// TestConfig checks the configurations New refuses, and the defaults.
func TestConfig(t *testing.T) {
	small := testShapes()[0]
	for name, cfg := range map[string]Config{
		"no command":       {},
		"empty argv0":      {Command: []string{""}},
		"invalid shape":    {Command: []string{"ebb"}, Shapes: []cluster.Shape{{Name: "x"}}},
		"shape twice":      {Command: []string{"ebb"}, Shapes: []cluster.Shape{small, small}},
		"negative grace":   {Command: []string{"ebb"}, Grace: -time.Second},
		"negative timeout": {Command: []string{"ebb"}, LeaseTimeout: -time.Second},
	} {
		if _, err := New(cfg); !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("%s: New: %v, want ErrInvalid", name, err)
		}
	}
	p, err := New(Config{Command: []string{"ebb", "worker"}, Env: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	shapes := p.Shapes()
	if len(shapes) != 3 || shapes[2].Name != "whole" || shapes[2].Resources[ebb.CPU] <= 0 || shapes[2].Resources[ebb.Mem] <= 0 {
		t.Errorf("default shapes = %v, want quarter, half and whole of this machine", shapes)
	}
	if p.cfg.Grace != DefaultGrace || p.cfg.LeaseTimeout != DefaultLeaseTimeout {
		t.Errorf("defaults: Grace %v, LeaseTimeout %v", p.cfg.Grace, p.cfg.LeaseTimeout)
	}
	if _, err := p.Launch(context.Background(), cluster.Shape{Name: "none"}, nil); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("Launch of an unknown shape: %v, want ErrInvalid", err)
	}
}

// TestElastic runs an Elastic cluster over worker processes: an Allocate
// launches a worker, a task runs on it, and once the alloc is freed the
// idle worker is terminated; stopping the cluster leaves nothing.
func TestElastic(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := newProvider(t, Config{})
	e, err := cluster.NewElastic(cluster.ElasticConfig{
		Provider:    p,
		BatchWindow: 10 * time.Millisecond,
		IdleTimeout: 500 * time.Millisecond,
		BackoffMin:  100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- e.Run(rctx) }()
	defer func() {
		stop()
		if err := <-ran; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
		checkNoChildren(t)
	}()

	a, err := e.Allocate(ctx, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 2}}, ebb.Labels{"run": "elastic"})
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	if !strings.Contains(a.ID(), "/") || !a.Resources().Equal(ebb.Resources{ebb.CPU: 2}) {
		t.Errorf("alloc %s holds %v; want WORKER/ALLOC holding 2 cpu", a.ID(), a.Resources())
	}
	if ws, _ := p.Workers(ctx); len(ws) != 1 || ws[0].Shape.Name != "large" || ws[0].Labels["run"] != "elastic" {
		t.Errorf("Workers = %v, want one large worker labelled run=elastic", ws)
	}
	x, err := a.Put(ctx, digest.FromString("echo"), pool.ExecConfig{Argv: []string{"/bin/echo", "elastic"}, Resources: ebb.Resources{ebb.CPU: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := x.Wait(ctx); err != nil || !r.OK() || r.Stdout != "elastic\n" {
		t.Errorf("Wait = %+v, %v", r, err)
	}
	if err := a.Free(ctx); err != nil {
		t.Fatal(err)
	}
	if !proctest.Eventually(30*time.Second, func() bool { ws, _ := p.Workers(ctx); return len(ws) == 0 }) {
		t.Error("the idle worker was not terminated")
	}
}

// TestSharedRepository launches a worker on the driver's repository
// directory: the task's input is staged from it and its output stored in
// it, with no copy through the protocol.
func TestSharedRepository(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	root := t.TempDir()
	store, err := repository.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	in, err := store.Put(ctx, strings.NewReader("shared\n"))
	if err != nil {
		t.Fatal(err)
	}
	p := newProvider(t, Config{Repository: root})
	w, err := p.Launch(ctx, p.Shapes()[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := pool.Allocate(ctx, w.Pool, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	x, err := a.Put(ctx, digest.FromString("cp"), pool.ExecConfig{
		Argv:    []string{"/bin/cp", "in", "out"},
		Inputs:  map[string]digest.Digest{"in": in},
		Outputs: []string{"out"},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := x.Wait(ctx)
	if err != nil || !r.OK() {
		t.Fatalf("Wait = %+v, %v", r, err)
	}
	if r.Outputs["out"] != in {
		t.Errorf("output digest %s, want the input's %s", r.Outputs["out"], in)
	}
	if _, err := store.Stat(ctx, r.Outputs["out"]); err != nil {
		t.Errorf("the output in the shared repository: %v", err)
	}
}
