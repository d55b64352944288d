package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"

	"path/filepath"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/cluster/procs"
	"github.com/ebbflow/ebb/cluster/slurm"
)

// auxCluster returns the cluster the run's auxiliary allocs come from, a
// phrase saying what it is, and a function that stops it once the run is
// over: the machine's own pool for "local"; for "procs" and "slurm", an
// elastic cluster that launches `ebb worker` processes on this machine, or
// Slurm jobs, each sharing the run's repository directory, and terminates
// them once idle. ecfg gives the elastic cluster's status and events.
func auxCluster(ctx context.Context, o options, local cluster.Cluster, repoDir string, ecfg cluster.ElasticConfig) (cluster.Cluster, string, func() error, error) {
	switch o.aux {
	case "local":
		return local, "this machine's pool", func() error { return nil }, nil
	case "procs", "slurm", "kube":
	default:
		return nil, "", nil, fmt.Errorf("-aux %q: want local, procs, slurm or kube", o.aux)
	}
	bin := o.ebb
	if bin == "" && o.aux != "kube" {
		var err error
		if bin, err = exec.LookPath("ebb"); err != nil {
			return nil, "", nil, fmt.Errorf("-aux %s needs the ebb binary: build it with `go build -o /tmp/ebb ./cmd/ebb` and pass -ebb /tmp/ebb (%v)", o.aux, err)
		}
	}
	var (
		prov      cluster.Provider
		closeProv func(context.Context) error
		where     string
	)
	switch {
	case o.aux == "kube":
		// Pods of a Kubernetes cluster (scripts/kube-test-cluster
		// brings one up), whose image holds the ebb binary.
		p, closeP, err := kubeProvider(ctx, repoDir)
		if err != nil {
			return nil, "", nil, err
		}
		prov, closeProv, where = p, closeP, "Kubernetes pods"
	case o.aux == "procs":
		p, err := procs.New(procs.Config{
			Command:    []string{bin, "worker"},
			Repository: repoDir,
			// A worker left by a driver that died stops itself after this.
			LeaseTimeout: time.Minute,
			Grace:        5 * time.Second,
		})
		if err != nil {
			return nil, "", nil, err
		}
		prov, closeProv, where = p, p.Close, "ebb worker processes ("+bin+")"
	default:
		// Slurm jobs on this machine's cluster (scripts/slurm-test-cluster
		// brings one up), sharing the repository directory; on a real
		// cluster, a shared file system or bootstrap.Config.Blobs.
		p, err := slurm.New(ctx, slurm.Config{
			Bootstrap: bootstrap.Config{
				Command:      []string{bin, "worker"},
				Repository:   repoDir,
				LeaseTimeout: time.Minute,
				Grace:        5 * time.Second,
			},
			Shapes:       []cluster.Shape{{Name: "task", Resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 512 << 20}, Price: 1}},
			Dir:          filepath.Join(o.dir, "slurm"),
			TimeLimit:    10 * time.Minute,
			PollInterval: time.Second,
		})
		if err != nil {
			return nil, "", nil, err
		}
		prov, closeProv, where = p, p.Close, "Slurm jobs running "+bin
	}
	ecfg.Provider = prov
	ecfg.MaxWorkers = 4
	ecfg.BatchWindow = 20 * time.Millisecond
	ecfg.IdleTimeout = 2 * time.Second
	elastic, err := cluster.NewElastic(ecfg)
	if err != nil {
		closeProv(ctx)
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
		return errors.Join(err, closeProv(context.Background()))
	}
	return elastic, where, stop, nil
}
