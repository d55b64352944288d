package runner

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool/local"
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

func benchRunner(b *testing.B, chain bool) {
	p, err := local.New(local.Config{Resources: ebb.Resources{ebb.CPU: 2, ebb.Mem: 4 << 30}})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	flow := noopFlow(b.N, chain)
	b.ReportAllocs()
	b.ResetTimer()
	r, err := New(Config{Flow: flow, Cluster: cluster.NewStatic(p)}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
	if got := r.State().Result.Ran; got != b.N {
		b.Fatalf("ran %d tasks, want %d", got, b.N)
	}
}

// BenchmarkRunnerIndependent runs b.N independent no-op tasks in one run
// through the Runner on the local pool: the cost of dispatching a task.
func BenchmarkRunnerIndependent(b *testing.B) { benchRunner(b, false) }

// BenchmarkRunnerChain runs b.N no-op tasks, each after the one before.
func BenchmarkRunnerChain(b *testing.B) { benchRunner(b, true) }

// BenchmarkEvalHeld measures the heap an Eval holds per task of a wide
// flow before any runs: what a 1,000,000-task flow costs to hold.
func BenchmarkEvalHeld(b *testing.B) {
	const n = 100_000
	flow := noopFlow(n, false)
	g, err := flow.Graph()
	if err != nil {
		b.Fatal(err)
	}
	digests, err := g.Digests(nil)
	if err != nil {
		b.Fatal(err)
	}
	var before, after runtime.MemStats
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&before)
		e, err := NewEval(context.Background(), g, digests, EvalConfig{})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(e)
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/task-held")
}
