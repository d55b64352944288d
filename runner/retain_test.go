package runner

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/internal/proctest"
	"github.com/ebbflow/ebb/pool/local"
)

// After a failure the primary is kept for Retain, alive, then freed.
func TestRetainAfterFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := memPool(t)
		flow := &ebb.Flow{Tasks: []ebb.Task{c.task("bad", oneCPU, func(context.Context) error { return errors.New("boom") })}}
		r, err := New(Config{Flow: flow, Cluster: static(p), Retain: 10 * time.Minute}, nil)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		start := time.Now()
		go func() { done <- r.Run(t.Context()) }()
		advance(9 * time.Minute)
		if ids := liveAllocs(t, p); len(ids) != 1 {
			t.Fatalf("after 9 of 10 minutes of retention, live allocs %v; want the primary", ids)
		}
		if err := <-done; err == nil || !strings.Contains(err.Error(), "boom") {
			t.Errorf("Run = %v, want the task's failure", err)
		}
		if d := time.Since(start); d != 10*time.Minute {
			t.Errorf("run ended after %v, want 10m", d)
		}
		if ids := liveAllocs(t, p); len(ids) != 0 {
			t.Errorf("allocs left after retention: %v", ids)
		}
	})
}

// A cancelled run on the local pool leaves no process behind.
func TestCancelledRunLeavesNoProcess(t *testing.T) {
	p, err := local.New(local.Config{Resources: ebb.Resources{ebb.CPU: 4}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	started := make(chan struct{}, 4)
	flow := &ebb.Flow{}
	for _, name := range []string{"a", "b", "c"} {
		flow.Tasks = append(flow.Tasks, ebb.Task{Name: name, Argv: []string{"sleep", "1000"}, Resources: oneCPU})
	}
	// A func task tells the test when the run is under way.
	flow.Tasks = append(flow.Tasks, ebb.Task{Name: "signal", FuncKey: "signal", Resources: oneCPU,
		Func: func(ctx context.Context, _ ebb.FuncEnv) error {
			started <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		}})
	r, err := New(Config{Flow: flow, Cluster: cluster.NewStatic(p)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	<-started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want Canceled", err)
	}
	if kids := proctest.Children(); len(kids) != 0 {
		t.Errorf("processes left behind: %v", kids)
	}
	if allocs, _ := p.Allocs(t.Context()); len(allocs) != 0 {
		t.Errorf("%d allocs left", len(allocs))
	}
}
