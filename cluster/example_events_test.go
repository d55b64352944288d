package cluster_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/clustertest"
	"github.com/grailbio/base/status"
)

// An Elastic tells OnWorker what happens to its workers, and shows its
// state in a status group for people.
func ExampleElasticConfig_onWorker() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := clustertest.NewProvider(clustertest.ProviderConfig{})
	defer p.Close()
	var (
		mu  sync.Mutex
		evs []cluster.WorkerEvent
	)
	var st status.Status
	workers := st.Group("workers")
	e, err := cluster.NewElastic(cluster.ElasticConfig{
		Provider: p,
		// OnWorker must not block: here it only keeps the event.
		OnWorker: func(ev cluster.WorkerEvent) {
			mu.Lock()
			defer mu.Unlock()
			evs = append(evs, ev)
		},
		Status: workers,
	})
	if err != nil {
		panic(err)
	}
	runc := make(chan error)
	go func() { runc <- e.Run(ctx) }()
	if _, err := e.Allocate(ctx, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, nil); err != nil {
		panic(err)
	}
	fmt.Println("status:", workers.Value().Status)
	cancel()
	<-runc
	for _, ev := range evs {
		fmt.Println(ev.Kind, ev.Worker, ev.Shape)
	}
	// Output:
	// status: 1 up, 0 launching, 0 allocs waiting
	// launching  small
	// up w1 small
	// stopping w1 small
	// stopped w1 small
}
