package runner_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool/pooltest"
	"github.com/ebbflow/ebb/runner"
)

// A run's events go to every subscription of its EventBus. The run never
// waits for a subscriber: this one reads only once the run is over.
func ExampleEventBus() {
	p := pooltest.NewPool(pooltest.PoolConfig{Nodes: []ebb.Resources{{ebb.CPU: 1}}})
	defer p.Close()
	noop := func(context.Context, ebb.FuncEnv) error { return nil }
	flow := &ebb.Flow{Tasks: []ebb.Task{
		{Name: "fetch", FuncKey: "fetch/v1", Func: noop, Resources: ebb.Resources{ebb.CPU: 1}},
		{Name: "count", FuncKey: "count/v1", Func: noop, Resources: ebb.Resources{ebb.CPU: 1}, After: []string{"fetch"}},
	}}
	bus := runner.NewEventBus()
	sub := bus.Subscribe(100)
	r, err := runner.New(runner.Config{Flow: flow, Cluster: cluster.NewStatic(p), Events: bus}, nil)
	if err != nil {
		panic(err)
	}
	if err := r.Run(context.Background()); err != nil {
		panic(err)
	}
	sub.Close()
	for {
		ev, err := sub.Next(context.Background())
		if errors.Is(err, ebb.ErrClosed) {
			break
		}
		fmt.Println(ev.Kind, ev.Task, ev.AllocID != "")
	}
	// Output:
	// queued fetch false
	// started fetch true
	// finished fetch true
	// queued count false
	// started count true
	// finished count true
}
