package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/clustertest"
	"github.com/ebbflow/ebb/pool/pooltest"
)

// An elastic cluster launches a worker for a request that no worker can
// hold, and terminates its workers when Run ends.
func ExampleElastic() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A fake provider whose workers are memory pools; a real one starts
	// processes, Slurm jobs or pods.
	p := clustertest.NewProvider(clustertest.ProviderConfig{
		Shapes: []cluster.Shape{
			{Name: "small", Resources: ebb.Resources{ebb.CPU: 2, ebb.Mem: 4 << 30}, Price: 1},
			{Name: "large", Resources: ebb.Resources{ebb.CPU: 8, ebb.Mem: 32 << 30}, Price: 3},
		},
	})
	defer p.Close()
	e, err := cluster.NewElastic(cluster.ElasticConfig{Provider: p, MaxWorkers: 4})
	if err != nil {
		panic(err)
	}
	runc := make(chan error)
	go func() { runc <- e.Run(ctx) }()

	caps, _ := e.Capacity(ctx)
	fmt.Println("capacity:", caps)

	a, err := e.Allocate(ctx, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 4, ebb.Mem: 8 << 30}}, ebb.Labels{"run": "r1"})
	if err != nil {
		panic(err)
	}
	fmt.Println("alloc:", a.ID(), a.Resources())
	for _, w := range e.Status().Workers {
		fmt.Println("worker:", w.ID, w.Shape)
	}

	cancel()
	fmt.Println("Run:", <-runc)
	fmt.Println("workers left:", p.Stats().Live)
	// Output:
	// capacity: [2 cpu, 4.0 GiB mem 8 cpu, 32.0 GiB mem]
	// alloc: w1/w1-alloc-1 4 cpu, 8.0 GiB mem
	// worker: w1 large
	// Run: context canceled
	// workers left: 0
}

// An Elastic whose manager was never started fails its Allocates loudly
// instead of waiting for launches that would never come: start it with
// `go e.Run(ctx)`.
func ExampleElastic_withoutRun() {
	ctx := context.Background()
	p := clustertest.NewProvider(clustertest.ProviderConfig{
		Shapes: []cluster.Shape{{Name: "small", Resources: ebb.Resources{ebb.CPU: 2}, Price: 1}},
	})
	defer p.Close()
	e, err := cluster.NewElastic(cluster.ElasticConfig{Provider: p, RunWait: 10 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	_, err = e.Allocate(ctx, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, nil)
	fmt.Println(errors.Is(err, ebb.ErrNotRunning))
	fmt.Println(err)
	// Output:
	// true
	// elastic elastic: allocate 1 cpu: the manager is not running, so no worker would ever be launched; start it with `go elastic.Run(ctx)` before the first Allocate: not running
}

// A static cluster is a pool that never grows.
func ExampleStatic() {
	ctx := context.Background()
	p := pooltest.NewPool(pooltest.PoolConfig{Nodes: []ebb.Resources{{ebb.CPU: 4}}})
	defer p.Close()
	c := cluster.NewStatic(p)
	a, err := c.Allocate(ctx, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}, Width: 2}, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(a.Resources())
	// Output:
	// 2 cpu
}

// Pack places three requests: one joins the spare room of a launch in
// flight, and two open new launches of the cheapest shape that holds them.
func ExamplePack() {
	small := cluster.Shape{Name: "small", Resources: ebb.Resources{ebb.CPU: 2}, Price: 1}
	large := cluster.Shape{Name: "large", Resources: ebb.Resources{ebb.CPU: 8}, Price: 3}
	wants := []ebb.Requirements{
		{Min: ebb.Resources{ebb.CPU: 1}},
		{Min: ebb.Resources{ebb.CPU: 1}, Width: 6},
		{Min: ebb.Resources{ebb.CPU: 2}},
	}
	// A small worker is being launched, with 1 cpu not yet claimed.
	launching := []cluster.Launching{{Shape: small, Free: ebb.Resources{ebb.CPU: 1}}}
	limits := cluster.Limits{Launches: 2, Budget: math.Inf(1)}
	for _, l := range cluster.Pack(wants, []cluster.Shape{small, large}, launching, limits) {
		what := "new launch of " + l.Shape.Name
		if l.Launching >= 0 {
			what = fmt.Sprintf("pending launch %d of %s", l.Launching, l.Shape.Name)
		}
		for _, c := range l.Claims {
			fmt.Printf("%s: request %d, %d× its Min\n", what, c.Request, c.Width)
		}
	}
	// Output:
	// pending launch 0 of small: request 0, 1× its Min
	// new launch of small: request 2, 1× its Min
	// new launch of large: request 1, 6× its Min
}
