package procs

import (
	"context"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/internal/enginebench"
)

// BenchmarkSteal measures, per iteration, a bare launch of a worker
// process, the time from demand appearing to a task running on a new
// worker process, and from that worker going idle to its process being
// gone (BENCHMARKS.md §3):
//
//	go test -run XXX -bench Steal -benchtime 1x -count 5 ./cluster/procs/
func BenchmarkSteal(b *testing.B) {
	shape := cluster.Shape{Name: "task", Resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 1 << 30}, Price: 1}
	enginebench.Bench(b, shape, 5*time.Second, func(dir string) (cluster.Provider, func(), error) {
		p, err := New(Config{
			Command:    []string{ebbBinary, "worker"},
			Shapes:     []cluster.Shape{shape},
			Dir:        b.TempDir(),
			Repository: enginebench.RepositoryDir(dir),
			Grace:      5 * time.Second,
		})
		if err != nil {
			return nil, nil, err
		}
		return p, func() { p.Close(context.Background()) }, nil
	})
}

// BenchmarkPredict runs a mixed flow of 26 sleeping tasks (a setup, a
// fan-out of short and long ones, a merge) on a primary of one worker's
// size and worker processes bought by the default policy, then simulates
// it with workers that boot as fast as one was measured to, and reports
// both makespans and auxiliary wastes side by side:
//
//	go test -run XXX -bench Predict -benchtime 1x -count 3 ./cluster/procs/
func BenchmarkPredict(b *testing.B) {
	shape := cluster.Shape{Name: "pair", Resources: ebb.Resources{ebb.CPU: 2, ebb.Mem: 1 << 30}, Price: 1}
	enginebench.BenchPredict(b, shape, func(dir string) (cluster.Provider, func(), error) {
		p, err := New(Config{
			Command:    []string{ebbBinary, "worker"},
			Shapes:     []cluster.Shape{shape},
			Dir:        b.TempDir(),
			Repository: enginebench.RepositoryDir(dir),
			Grace:      5 * time.Second,
		})
		if err != nil {
			return nil, nil, err
		}
		return p, func() { p.Close(context.Background()) }, nil
	})
}
