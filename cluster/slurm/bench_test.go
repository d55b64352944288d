package slurm

import (
	"context"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/internal/enginebench"
)

// BenchmarkSteal measures, per iteration, a bare launch of a worker as a
// Slurm job, the time from demand appearing to a task running on a new
// Slurm worker, and from that worker going idle to the provider listing
// none (BENCHMARKS.md §3), on the cluster of scripts/slurm-test-cluster:
//
//	go test -run XXX -bench Steal -benchtime 1x -count 5 ./cluster/slurm/
func BenchmarkSteal(b *testing.B) {
	needSlurm(b)
	shape := cluster.Shape{Name: "task", Resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 1 << 30}, Price: 1}
	enginebench.Bench(b, shape, 8*time.Second, func(dir string) (cluster.Provider, func(), error) {
		p, err := New(context.Background(), Config{
			Bootstrap: bootstrap.Config{
				Command:    []string{ebbBinary, "worker"},
				Repository: enginebench.RepositoryDir(dir),
				Grace:      5 * time.Second,
			},
			Shapes:       []cluster.Shape{shape},
			JobPrefix:    testPrefix + "bench-",
			Dir:          b.TempDir(),
			PollInterval: 200 * time.Millisecond,
			TimeLimit:    10 * time.Minute,
		})
		if err != nil {
			return nil, nil, err
		}
		return p, func() { p.Close(context.Background()) }, nil
	})
}
