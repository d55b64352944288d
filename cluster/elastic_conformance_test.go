package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/clustertest"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
)

// TestElasticConformance runs the Pool conformance suite against an
// Elastic cluster seen as a pool.
//
// The suite wants a fresh pool whose whole capacity is on offer at once,
// while an Elastic's capacity is mostly workers it has yet to launch: its
// Capacity lists the shapes it could launch, and nothing is on offer until
// a worker is up. So the pool under test is an Elastic that has adopted
// one running worker of each of its provider's shapes: its Capacity is
// then exactly those workers (a shape with a worker up is listed once, by
// the worker), and its offers add up to it. The idle timeout is longer
// than any lease the suite waits out, so no worker is terminated under
// it. What the suite checks is the Pool view: offers and allocs of several
// workers merged, alloc IDs of the form WORKER/ALLOC, re-attaching by ID,
// leases and execs passed through; Allocate and the launching are the
// other tests' job.
func TestElasticConformance(t *testing.T) {
	shapes := []cluster.Shape{
		{Name: "big", Resources: ebb.Resources{ebb.CPU: 8, ebb.Mem: 32 << 30, ebb.GPU: 2}, Price: 3},
		{Name: "small", Resources: ebb.Resources{ebb.CPU: 2, ebb.Mem: 4 << 30}, Price: 1},
	}
	const lease = 30 * time.Second
	pooltest.Run(t, pooltest.Config{
		New: func(t *testing.T) pool.Pool {
			p := clustertest.NewProvider(clustertest.ProviderConfig{Shapes: shapes, Lease: lease})
			for _, s := range shapes {
				p.Add(s.Name)
			}
			e, err := cluster.NewElastic(cluster.ElasticConfig{Provider: p, IdleTimeout: 24 * time.Hour})
			if err != nil {
				t.Fatalf("NewElastic: %v", err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() { errc <- e.Run(ctx) }()
			t.Cleanup(func() {
				cancel()
				<-errc
				p.Close()
			})
			if err := e.Ready(t.Context()); err != nil {
				t.Fatalf("Ready: %v", err)
			}
			return e
		},
		Lease: lease,
	})
}
