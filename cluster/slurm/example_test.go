package slurm_test

import (
	"context"
	"log"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/cluster/slurm"
)

// An elastic cluster of Slurm jobs: Allocate submits jobs that run `ebb
// worker` on the cluster's nodes, which announce themselves to this
// driver; Run cancels them when they idle and when it returns. The ebb
// binary and Dir are on a file system the nodes share, and both the
// driver and the workers listen where the other side reaches them.
func ExampleNew() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	p, err := slurm.New(ctx, slurm.Config{
		Bootstrap: bootstrap.Config{
			Command:      []string{"/shared/bin/ebb", "worker"},
			Listen:       ":0",
			WorkerListen: ":0",
		},
		Shapes: []cluster.Shape{
			{Name: "c8", Resources: ebb.Resources{ebb.CPU: 8, ebb.Mem: 30 << 30}, Price: 8},
			{Name: "c32", Resources: ebb.Resources{ebb.CPU: 32, ebb.Mem: 120 << 30}, Price: 32},
		},
		Partition:  "batch",
		TimeLimit:  12 * time.Hour,
		SbatchArgs: []string{"--account=genomics"},
		Dir:        "/shared/ebb/jobs",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())
	c, err := cluster.NewElastic(cluster.ElasticConfig{Provider: p})
	if err != nil {
		log.Fatal(err)
	}
	go c.Run(ctx)
	a, err := c.Allocate(ctx, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 4}}, ebb.Labels{"run": "r1"})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Free(ctx)
	// ... Put execs in a, as in any pool.
}
