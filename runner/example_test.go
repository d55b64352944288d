package runner_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool/pooltest"
	"github.com/ebbflow/ebb/runner"
)

// A flow is plain data: tasks, what they need, and what they wait for.
func Example_flow() {
	hello := func(ctx context.Context, env ebb.FuncEnv) error {
		fmt.Fprintln(env.Stdout, "hello")
		return nil
	}
	flow := &ebb.Flow{Name: "greet", Tasks: []ebb.Task{
		{Name: "fetch", Argv: []string{"curl", "-o", "page.html", "https://example.com"},
			Outputs: []string{"page.html"}, Resources: ebb.Resources{ebb.CPU: 1}},
		{Name: "count", Argv: []string{"wc", "-c", "page.html"},
			Inputs:    []ebb.Input{{Name: "page.html", Task: "fetch", Output: "page.html"}},
			Resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 64 << 20}},
		{Name: "greet", Func: hello, FuncKey: "hello/v1", After: []string{"count"}},
	}}
	g, err := flow.Graph()
	if err != nil {
		panic(err)
	}
	fmt.Println("primary needs:", g.Requirements())

	// A broken flow is refused whole, every problem named.
	flow.Tasks = append(flow.Tasks, ebb.Task{Name: "count", After: []string{"nobody"}})
	fmt.Println(flow.Validate())
	// Output:
	// primary needs: 1 cpu, 64.0 MiB mem
	// flow "greet": 3 problems
	// 	task "count": name used by tasks 1 and 3: invalid
	// 	task "count": no command: set argv or func: invalid
	// 	task "count": after: no task named "nobody": invalid
}

// A Runner with a StateStore can be resumed from the saved State in a new
// process; here the run simply ends.
func ExampleRunner() {
	dir, _ := os.MkdirTemp("", "ebb-example")
	defer os.RemoveAll(dir)
	// The in-memory pool stands in for pool/local, this machine.
	p := pooltest.NewPool(pooltest.PoolConfig{Nodes: []ebb.Resources{{ebb.CPU: 4, ebb.Mem: 8 << 30}}})
	defer p.Close()

	var flow ebb.Flow
	for i := range 3 {
		name := fmt.Sprintf("part-%d", i)
		flow.Tasks = append(flow.Tasks, ebb.Task{
			Name: name, FuncKey: "part/v1/" + name, Resources: ebb.Resources{ebb.CPU: 1},
			Func: func(context.Context, ebb.FuncEnv) error { return nil },
		})
	}
	store := runner.FileStore{Path: filepath.Join(dir, "state.json")}
	r, err := runner.New(runner.Config{Flow: &flow, Cluster: cluster.NewStatic(p), Store: store}, nil)
	if err != nil {
		panic(err)
	}
	if err := r.Run(context.Background()); err != nil {
		panic(err)
	}
	saved, err := store.Load(context.Background())
	if err != nil {
		panic(err)
	}
	fmt.Println("phase:", saved.Phase, "ran:", saved.Result.Ran, "allocs taken:", saved.Allocs)

	// The saved State resumes the same flow; a finished run has nothing
	// left to do.
	again, err := runner.New(runner.Config{Flow: &flow, Cluster: cluster.NewStatic(p), Store: store}, saved)
	if err != nil {
		panic(err)
	}
	more, err := again.Do(context.Background())
	fmt.Println("more:", more, err)
	// Output:
	// phase: done ran: 3 allocs taken: 1
	// more: false <nil>
}
