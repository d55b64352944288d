package runner

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool/local"

	"github.com/ebbflow/ebb/internal/heaptest"
)

func noop(context.Context, ebb.FuncEnv) error { return nil }

// noopFlow returns n no-op Func tasks, independent or each after the last.
func noopFlow(n int, chain bool) *ebb.Flow {
	flow := &ebb.Flow{Name: "noop", Tasks: make([]ebb.Task, n)}
	res := ebb.Resources{ebb.CPU: 0.001}
	for i := range flow.Tasks {
		name := fmt.Sprintf("t%07d", i)
		flow.Tasks[i] = ebb.Task{Name: name, Func: noop, FuncKey: name, Resources: res}
		if chain && i > 0 {
			flow.Tasks[i].After = []string{flow.Tasks[i-1].Name}
		}
	}
	return flow
}

// cpuTime returns the user and system CPU time the process has used:
// unlike wall time, it barely moves when the machine is shared.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchRunner(b *testing.B, chain bool) {
	p, err := local.New(local.Config{Resources: ebb.Resources{ebb.CPU: 2, ebb.Mem: 4 << 30}})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	mark := heaptest.Mark()
	flow := noopFlow(b.N, chain)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	r, err := New(Config{Flow: flow, Cluster: cluster.NewStatic(p)}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/task")
	if got := r.State().Result.Ran; got != b.N {
		b.Fatalf("ran %d tasks, want %d", got, b.N)
	}
	// What the finished run still holds: the flow, its graph and
	// digests, the eval's record of every task.
	b.ReportMetric(heaptest.PerItem(mark, b.N, r), "held-B/task")
}

// BenchmarkRunnerIndependent runs b.N independent no-op tasks in one run
// through the Runner on the local pool: the cost of dispatching a task.
func BenchmarkRunnerIndependent(b *testing.B) { benchRunner(b, false) }

// BenchmarkRunnerChain runs b.N no-op tasks, each after the one before.
func BenchmarkRunnerChain(b *testing.B) { benchRunner(b, true) }

// BenchmarkMillionTasks builds a flow of 1,000,000 independent no-op
// tasks in Go and runs it through the Runner on the local pool, once per
// iteration, and reports the wall and CPU time per flow and the
// process's peak resident memory. Run it
// alone, in a fresh process, for a meaningful peak:
//
//	go test -run XXX -bench MillionTasks -benchtime 1x ./runner
func BenchmarkMillionTasks(b *testing.B) { benchMillion(b, 1) }

// BenchmarkMillionTasksKinds is BenchmarkMillionTasks with the tasks of
// 64 kinds, the first of each to finish re-weighing every task's rank
// (within rankq.Reweigh's budget): what learning durations costs a big flow.
func BenchmarkMillionTasksKinds(b *testing.B) { benchMillion(b, 64) }

func benchMillion(b *testing.B, kinds int) {
	const n = 1_000_000
	p, err := local.New(local.Config{Resources: ebb.Resources{ebb.CPU: 2, ebb.Mem: 4 << 30}})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	cpu0 := cpuTime()
	for b.Loop() {
		flow := noopFlow(n, false)
		if kinds > 1 {
			for i := range flow.Tasks {
				flow.Tasks[i].Kind = benchKinds[i%kinds]
			}
		}
		r, err := New(Config{Flow: flow, Cluster: cluster.NewStatic(p)}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		if got := r.State().Result.Ran; got != n {
			b.Fatalf("ran %d tasks, want %d", got, n)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/flow")
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/flow")
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/(1<<20), "peak-GiB")
	}
}

// benchKinds are the kinds of BenchmarkMillionTasksKinds' tasks.
var benchKinds = func() []string {
	out := make([]string, 64)
	for i := range out {
		out[i] = fmt.Sprintf("kind-%c%c", 'a'+i/8, 'a'+i%8)
	}
	return out
}()
