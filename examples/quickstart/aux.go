package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"

	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/procs"
)

// auxCluster returns the cluster the run's auxiliary allocs come from, a
// phrase saying what it is, and a function that stops it once the run is
// over: the machine's own pool for "local"; for "procs", an elastic
// cluster that launches `ebb worker` processes on this machine, each
// sharing the run's repository directory, and terminates them once idle.
func auxCluster(ctx context.Context, o options, local cluster.Cluster, repoDir string) (cluster.Cluster, string, func() error, error) {
	switch o.aux {
	case "local":
		return local, "this machine's pool", func() error { return nil }, nil
	case "procs":
	default:
		return nil, "", nil, fmt.Errorf("-aux %q: want local or procs", o.aux)
	}
	bin := o.ebb
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("ebb"); err != nil {
			return nil, "", nil, fmt.Errorf("-aux procs needs the ebb binary: build it with `go build -o /tmp/ebb ./cmd/ebb` and pass -ebb /tmp/ebb (%v)", err)
		}
	}
	prov, err := procs.New(procs.Config{
		Command:    []string{bin, "worker"},
		Repository: repoDir,
		// A worker left by a driver that died stops itself after this.
		LeaseTimeout: time.Minute,
		Grace:        5 * time.Second,
	})
	if err != nil {
		return nil, "", nil, err
	}
	elastic, err := cluster.NewElastic(cluster.ElasticConfig{
		Provider:    prov,
		MaxWorkers:  4,
		BatchWindow: 20 * time.Millisecond,
		IdleTimeout: 2 * time.Second,
	})
	if err != nil {
		prov.Close(ctx)
		return nil, "", nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ran := make(chan error, 1)
	go func() { ran <- elastic.Run(runCtx) }()
	stop := func() error {
		cancel()
		err := <-ran
		if errors.Is(err, context.Canceled) {
			err = nil
		}
		return errors.Join(err, prov.Close(context.Background()))
	}
	return elastic, "ebb worker processes (" + bin + ")", stop, nil
}
