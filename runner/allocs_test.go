package runner

import (
	"context"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/local"
	"github.com/opencontainers/go-digest"
)

// instantAlloc is a real local alloc whose execs end as soon as they are
// put, allocating nothing: what is left to count is the eval's own cost.
type instantAlloc struct{ pool.Alloc }

type instantExec struct{ pool.Exec }

func (instantAlloc) Put(context.Context, pool.ExecID, pool.ExecConfig) (pool.Exec, error) {
	return instantExec{}, nil
}

func (instantAlloc) Remove(context.Context, pool.ExecID) error { return nil }

func (instantExec) Wait(context.Context) (pool.Result, error) { return pool.Result{}, nil }

// TestEvalAllocsPerTask guards the cost of dispatching a task: placing
// it, running it on an alloc whose execs cost nothing, and recording its
// result, in a flow of independent tasks. It takes about 0.2 allocations
// a task: the goroutine that finishes a task takes the next one itself,
// where a Work loop woken for it took about one (its wake channel), and
// three when every task had a goroutine of its own.
func TestEvalAllocsPerTask(t *testing.T) {
	if testing.Short() {
		t.Skip("counts allocations over a few thousand tasks")
	}
	const n = 4000
	ctx := context.Background()
	a, g, digests := allocsSetup(t, n)
	run := func() {
		e, err := NewEval(ctx, g, digests, EvalConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Work(ctx, instantAlloc{a}); err != nil {
			t.Fatal(err)
		}
		if p := e.Progress(); p.Done != n {
			t.Fatalf("%d tasks done, want %d", p.Done, n)
		}
	}
	perTask := testing.AllocsPerRun(3, run) / n
	t.Logf("%.2f allocations a task", perTask)
	if perTask > maxAllocsPerTask {
		t.Errorf("%.2f allocations a task, want at most %v", perTask, maxAllocsPerTask)
	}
}

const maxAllocsPerTask = 0.5

// TestEvalCallAllocsPerTask guards the cost of a func task on a real
// local alloc, which runs it through Call (see caller): Call reuses the
// exec records of the tasks before, the Result shares the task's
// Resources, and what is left is the dispatch of TestEvalAllocsPerTask,
// about 0.15 allocations a task. It was 1.2 when every Call made an
// exec record, and 4.2 when the exec's done channel was made for every
// exec and the Result's Resources copied.
func TestEvalCallAllocsPerTask(t *testing.T) {
	if testing.Short() {
		t.Skip("counts allocations over a few thousand tasks")
	}
	const n = 4000
	ctx := context.Background()
	a, g, digests := allocsSetup(t, n)
	var evals []*Eval // made outside the count: Work's cost alone
	for range 4 {
		e, err := NewEval(ctx, g, digests, EvalConfig{})
		if err != nil {
			t.Fatal(err)
		}
		evals = append(evals, e)
	}
	perTask := testing.AllocsPerRun(3, func() {
		e := evals[0]
		evals = evals[1:]
		if err := e.Work(ctx, a); err != nil {
			t.Fatal(err)
		}
		if p := e.Progress(); p.Done != n {
			t.Fatalf("%d tasks done, want %d", p.Done, n)
		}
	}) / n
	t.Logf("%.2f allocations a task", perTask)
	if perTask > maxCallAllocsPerTask {
		t.Errorf("%.2f allocations a task, want at most %v", perTask, maxCallAllocsPerTask)
	}
}

const maxCallAllocsPerTask = 0.5

// allocsSetup returns what the allocation guards count over: a real
// local alloc of 2 cpus, freed when t ends, and a flow of n independent
// no-op tasks, indexed and digested.
func allocsSetup(t *testing.T, n int) (pool.Alloc, *ebb.Graph, []digest.Digest) {
	t.Helper()
	ctx := context.Background()
	p, err := local.New(local.Config{Resources: ebb.Resources{ebb.CPU: 2, ebb.Mem: 4 << 30}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(ctx) })
	a, err := pool.Allocate(ctx, p, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 2}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Free(ctx) })
	g, err := noopFlow(n, false).Graph()
	if err != nil {
		t.Fatal(err)
	}
	digests, err := g.Digests(nil)
	if err != nil {
		t.Fatal(err)
	}
	return a, g, digests
}
