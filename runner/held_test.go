package runner

import (
	"context"
	"testing"

	"github.com/ebbflow/ebb/internal/heaptest"
)

// TestEvalHeldBytesPerTask guards what an Eval holds a task of a big flow
// of independent tasks, beyond the flow, its graph and its digests: its
// state, dependencies waiting, kind, rank, shape, place in the ready
// queue and what it took (its size, for the next run), about 68 bytes.
// It was about 88 when every task had a slice of its dependents and its
// ready queue entry took 24 bytes.
func TestEvalHeldBytesPerTask(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an eval of 100,000 tasks")
	}
	const n = 100_000
	g, err := noopFlow(n, false).Graph()
	if err != nil {
		t.Fatal(err)
	}
	digests, err := g.Digests(nil)
	if err != nil {
		t.Fatal(err)
	}
	mark := heaptest.Mark()
	e, err := NewEval(context.Background(), g, digests, EvalConfig{})
	if err != nil {
		t.Fatal(err)
	}
	held := heaptest.PerItem(mark, n, e)
	t.Logf("an eval holds %.1f B a task", held)
	if held > 72 {
		t.Errorf("an eval holds %.1f B a task, want at most 72", held)
	}
	if got := e.Progress().Ready; got != n {
		t.Errorf("%d tasks ready, want %d", got, n)
	}
}

// TestNewEvalAllocs guards that making the eval of a chain of tasks takes
// a fixed number of allocations, not one or more a task (a slice of
// dependents each, a growing list of the ready ones); and of independent
// tasks, all ready from the start, as few: their queue is sized for
// them once (44 allocations when the last run of a shape went
// uncounted).
func TestNewEvalAllocs(t *testing.T) {
	const n = 2000
	for _, c := range []struct {
		name  string
		chain bool
	}{{"chain", true}, {"independent", false}} {
		g, err := noopFlow(n, c.chain).Graph()
		if err != nil {
			t.Fatal(err)
		}
		digests, err := g.Digests(nil)
		if err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(3, func() {
			if _, err := NewEval(context.Background(), g, digests, EvalConfig{}); err != nil {
				t.Fatal(err)
			}
		})
		t.Logf("NewEval of %d %s tasks: %.0f allocations", n, c.name, allocs)
		if allocs > maxNewEvalAllocs {
			t.Errorf("NewEval of %d %s tasks: %.0f allocations, want at most %d", n, c.name, allocs, maxNewEvalAllocs)
		}
	}
}

const maxNewEvalAllocs = 40
