package runner_test

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
	"github.com/ebbflow/ebb/runner"
)

// quotaCluster is a cluster backend a user might write: it hands out
// allocs from a pool it owns, refusing to hold more than a quota of cores
// at once. Embedding pool.Pool gives it the Pool methods; Allocate is its
// own.
type quotaCluster struct {
	pool.Pool
	quota   float64
	granted atomic.Int64
}

var _ cluster.Cluster = (*quotaCluster)(nil)

func (c *quotaCluster) Allocate(ctx context.Context, req ebb.Requirements, labels ebb.Labels) (pool.Alloc, error) {
	if req.Min[ebb.CPU] > c.quota {
		return nil, fmt.Errorf("quota: %v cpu asked, quota %v: %w", req.Min[ebb.CPU], c.quota, ebb.ErrResources)
	}
	// Never more than the quota, even when the request could use more.
	if max := int(c.quota / max(req.Min[ebb.CPU], 1)); req.Width > max {
		req.Width = max
	}
	a, err := pool.Allocate(ctx, c.Pool, req, labels)
	if err == nil {
		c.granted.Add(1)
	}
	return a, err
}

// A Runner drives a flow on a cluster backend of the user's own.
func Example_customCluster() {
	p := pooltest.NewPool(pooltest.PoolConfig{Nodes: []ebb.Resources{{ebb.CPU: 16}}})
	defer p.Close()
	c := &quotaCluster{Pool: p, quota: 4}

	var flow ebb.Flow
	var ran atomic.Int64
	for i := range 12 {
		name := fmt.Sprintf("shard-%02d", i)
		flow.Tasks = append(flow.Tasks, ebb.Task{
			Name: name, FuncKey: "shard/v1/" + name, Resources: ebb.Resources{ebb.CPU: 1},
			Func: func(context.Context, ebb.FuncEnv) error { ran.Add(1); return nil },
		})
	}
	r, err := runner.New(runner.Config{Flow: &flow, Cluster: c}, nil)
	if err != nil {
		panic(err)
	}
	if err := r.Run(context.Background()); err != nil {
		panic(err)
	}
	s := r.State()
	fmt.Println("tasks run:", ran.Load())
	fmt.Println("allocs granted:", c.granted.Load(), "freed at the end:", s.Primary == nil)
	// Output:
	// tasks run: 12
	// allocs granted: 1 freed at the end: true
}
