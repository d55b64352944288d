package enginebench

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool/local"
	"github.com/ebbflow/ebb/repository"
)

// bareLaunch launches one worker of shape on p, alone, and terminates it:
// what the engine itself takes to start a worker that serves.
func bareLaunch(ctx context.Context, p cluster.Provider, shape cluster.Shape) (time.Duration, error) {
	start := time.Now()
	w, err := p.Launch(ctx, shape, ebb.Labels{"bench": "bare"})
	if err != nil {
		return 0, fmt.Errorf("bare launch: %w", err)
	}
	took := time.Since(start)
	if err := p.Terminate(ctx, w.ID); err != nil {
		return 0, fmt.Errorf("terminating the bare launch: %w", err)
	}
	return took, nil
}

// A rig is what an elastic run of the benchmarks needs: the repository
// under dir (RepositoryDir), a primary machine from this machine's pool
// holding primary, and an Elastic over the provider, running until close.
type rig struct {
	repo    *repository.Dir
	machine *local.Pool
	elastic *cluster.Elastic
	stop    func()
	done    chan error
}

// newRig opens the repository and the pool under dir and starts an
// Elastic configured by ecfg; close stops and frees them all.
func newRig(ctx context.Context, dir string, primary ebb.Resources, ecfg cluster.ElasticConfig) (*rig, error) {
	repo, err := repository.Open(RepositoryDir(dir))
	if err != nil {
		return nil, err
	}
	machine, err := local.New(local.Config{Dir: filepath.Join(dir, "pool"), Repository: repo, Resources: primary})
	if err != nil {
		return nil, err
	}
	elastic, err := cluster.NewElastic(ecfg)
	if err != nil {
		machine.Close(context.Background())
		return nil, err
	}
	ectx, stop := context.WithCancel(ctx)
	r := &rig{repo: repo, machine: machine, elastic: elastic, stop: stop, done: make(chan error, 1)}
	go func() { r.done <- elastic.Run(ectx) }()
	return r, nil
}

// close stops the Elastic, waits for its Run to return, and closes the
// pool.
func (r *rig) close() {
	r.stop()
	<-r.done
	r.machine.Close(context.Background())
}
