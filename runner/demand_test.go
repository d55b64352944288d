package runner_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
	"github.com/ebbflow/ebb/runner"
)

// Demand is a dry run of the placement that Work does: tasks an alloc will
// not start because of MaxExecs count as demand, like tasks that do not
// fit.
func TestDemandHonoursMaxExecs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pooltest.NewPool(pooltest.PoolConfig{Nodes: []ebb.Resources{{ebb.CPU: 8}}})
		defer p.Close()
		block := func(ctx context.Context, _ ebb.FuncEnv) error { <-ctx.Done(); return ctx.Err() }
		flow := &ebb.Flow{}
		for i := range 10 {
			name := fmt.Sprintf("t%d", i)
			flow.Tasks = append(flow.Tasks, ebb.Task{Name: name, FuncKey: name, Func: block,
				Resources: ebb.Resources{ebb.CPU: 1}})
		}
		g, err := flow.Graph()
		if err != nil {
			t.Fatal(err)
		}
		digests, err := g.Digests(nil)
		if err != nil {
			t.Fatal(err)
		}
		e, err := runner.NewEval(t.Context(), g, digests, runner.EvalConfig{MaxExecs: 2})
		if err != nil {
			t.Fatal(err)
		}
		a, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 8}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- e.Work(ctx, a) }()
		synctest.Wait()

		if got := e.Progress(); got.Running != 2 || got.Ready != 8 {
			t.Fatalf("progress %+v, want 2 running and 8 ready", got)
		}
		want := []ebb.Demand{{Resources: ebb.Resources{ebb.CPU: 1}, Count: 8}}
		if got := e.Demand(); len(got) != 1 || !got[0].Resources.Equal(want[0].Resources) || got[0].Count != 8 {
			t.Errorf("Demand() = %v, want %v: the alloc has 6 cpu free but starts no third task", got, want)
		}
		cancel()
		<-done
		if err := a.Free(context.Background()); err != nil {
			t.Error(err)
		}
	})
}
