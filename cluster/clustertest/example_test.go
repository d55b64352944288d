package clustertest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/clustertest"
	"github.com/ebbflow/ebb/pool/pooltest"
)

// codeUnderTest stands for a user's code that takes allocs from a cluster:
// it asks for two, giving up on the second after the first.
func codeUnderTest(ctx context.Context, c cluster.Cluster) error {
	a, err := c.Allocate(ctx, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}, Width: 2}, ebb.Labels{"run": "r1"})
	if err != nil {
		return err
	}
	defer a.Free(context.WithoutCancel(ctx))
	fmt.Println("code: got", a.Resources())

	ctx2, cancel := context.WithCancel(ctx)
	go cancel() // no longer needed
	_, err = c.Allocate(ctx2, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, nil)
	fmt.Println("code: second:", errors.Is(err, context.Canceled))
	return nil
}

// The test answers each request of the code under test.
func Example() {
	ctx := context.Background()
	p := pooltest.NewPool(pooltest.PoolConfig{Nodes: []ebb.Resources{{ebb.CPU: 4}}})
	defer p.Close()
	c := clustertest.New(p)
	defer c.Close()

	done := make(chan error)
	go func() { done <- codeUnderTest(ctx, c) }()

	r, _ := c.Next(ctx)
	fmt.Println("test: asked for", r.Want, "with", r.Labels)
	if _, err := r.Grant(ctx); err != nil {
		panic(err)
	}

	r, _ = c.Next(ctx)
	<-done
	fmt.Println("test: second request cancelled:", r.Cancelled())

	allocs, _ := p.Allocs(ctx)
	fmt.Println("test: allocs left:", len(allocs))
	// Output:
	// test: asked for 1 cpu ×2 with run=r1
	// code: got 2 cpu
	// code: second: true
	// test: second request cancelled: true
	// test: allocs left: 0
}

// A fake provider launches workers whose pools live in memory.
func ExampleProvider() {
	ctx := context.Background()
	p := clustertest.NewProvider(clustertest.ProviderConfig{
		Shapes: []cluster.Shape{{Name: "small", Resources: ebb.Resources{ebb.CPU: 4}, Price: 1}},
	})
	defer p.Close()
	p.FailNext("small", ebb.ErrUnavailable)
	if _, err := p.Launch(ctx, p.Shapes()[0], nil); err != nil {
		fmt.Println("first launch:", errors.Is(err, ebb.ErrUnavailable))
	}
	w, err := p.Launch(ctx, p.Shapes()[0], ebb.Labels{"run": "r1"})
	if err != nil {
		panic(err)
	}
	caps, _ := w.Pool.Capacity(ctx)
	fmt.Println("worker:", w.ID, w.Shape.Name, caps)
	if err := p.Terminate(ctx, w.ID); err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", p.Stats())
	// Output:
	// first launch: true
	// worker: w1 small [4 cpu]
	// {Launches:2 Launched:1 Failed:1 Cancelled:0 Terminated:1 Live:0 Shapes:map[small:1]}
}
