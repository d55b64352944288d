package stealer_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool/pooltest"
	"github.com/ebbflow/ebb/runner"
	"github.com/ebbflow/ebb/stealer"
)

// A stealer alone runs a small flow: it sees three waiting tasks that
// nothing held can run, buys an alloc for them from an in-memory pool, has
// the evaluation work on it, and frees it when the evaluation is done.
func ExampleStealer_Run() {
	p := pooltest.NewPool(pooltest.PoolConfig{Nodes: []ebb.Resources{{ebb.CPU: 4}}})
	defer p.Close()

	flow := &ebb.Flow{Name: "example"}
	for _, name := range []string{"a", "b", "c"} {
		flow.Tasks = append(flow.Tasks, ebb.Task{
			Name: name, FuncKey: "example/" + name, Resources: ebb.Resources{ebb.CPU: 1},
			Func: func(ctx context.Context, env ebb.FuncEnv) error { return nil },
		})
	}
	g, err := flow.Graph()
	if err != nil {
		log.Fatal(err)
	}
	digests, err := g.Digests(nil)
	if err != nil {
		log.Fatal(err)
	}
	ev, err := runner.NewEval(context.Background(), g, digests, runner.EvalConfig{})
	if err != nil {
		log.Fatal(err)
	}

	s, err := stealer.New(stealer.Config{
		Cluster: cluster.NewStatic(p),
		OnEvent: func(e stealer.Event) {
			switch e.Kind {
			case stealer.EventRequested, stealer.EventReleased:
				fmt.Printf("%s: %s\n", e.Kind, e.Reason)
			case stealer.EventGranted:
				fmt.Printf("%s: %s\n", e.Kind, e.Resources)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Run(context.Background(), ev); err != nil {
		log.Fatal(err)
	}
	fmt.Println(ev.Progress().Done, "tasks done")
	// Output:
	// requested: requested 3 cpu for 3 waiting tasks: nothing held can run them
	// granted: 3 cpu
	// released: released alloc memory-alloc-1: evaluation done
	// 3 tasks done
}

// The default policy is a pure function of a snapshot: here, 48 one-cpu
// tasks wait behind a primary whose 2 cpus are busy, and an alloc takes 30
// s to come (the prior). In those 30 s one task would start on the
// primary, so the policy buys room for the other 47.
func ExampleDefault_Plan() {
	policy, err := stealer.NewDefault(stealer.DefaultConfig{})
	if err != nil {
		log.Fatal(err)
	}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	plan := policy.Plan(stealer.Snapshot{
		Now:    now,
		Demand: []ebb.Demand{{Resources: ebb.Resources{ebb.CPU: 1}, Count: 48}},
		Others: []stealer.Held{{
			ID: "primary", Resources: ebb.Resources{ebb.CPU: 2}, Busy: ebb.Resources{ebb.CPU: 2},
			Running: 2, Working: true,
		}},
	})
	for _, r := range plan.Acquire {
		fmt.Println(r.Requirements, "-", r.Reason)
	}
	// Output:
	// 1 cpu ×16 - requested 16 cpu for 16 waiting tasks: backlog drains in 24m30s on held capacity, allocation takes 30s
	// 1 cpu ×16 - requested 16 cpu for 16 waiting tasks: backlog drains in 24m30s on held capacity, allocation takes 30s
	// 1 cpu ×16 - requested 16 cpu for 16 waiting tasks: backlog drains in 24m30s on held capacity, allocation takes 30s
}
