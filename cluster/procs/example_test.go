package procs_test

import (
	"context"
	"log"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/procs"
)

// An elastic cluster of worker processes on this machine: Allocate
// launches `ebb worker` processes as needed, and Run terminates them when
// they idle and when it returns.
func ExampleNew() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	p, err := procs.New(procs.Config{Command: []string{"/usr/local/bin/ebb", "worker"}})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())
	c, err := cluster.NewElastic(cluster.ElasticConfig{Provider: p})
	if err != nil {
		log.Fatal(err)
	}
	go c.Run(ctx)
	a, err := c.Allocate(ctx, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer a.Free(ctx)
	// ... Put execs in a, as in any pool.
}
