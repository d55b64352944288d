package ebb

import (
	"strconv"
	"testing"

	"github.com/ebbflow/ebb/internal/heaptest"
)

func TestGraphIndex(t *testing.T) {
	for _, n := range []int{0, 1, 7, 1000} {
		f := &Flow{Name: "index", Tasks: make([]Task, n)}
		for i := range f.Tasks {
			f.Tasks[i] = Task{Name: "t" + strconv.Itoa(i), Argv: []string{"true"}}
		}
		g, err := f.Graph()
		if err != nil {
			t.Fatal(err)
		}
		for i := range f.Tasks {
			if j, ok := g.Index(f.Tasks[i].Name); !ok || j != i {
				t.Fatalf("%d tasks: Index(%q) = %d, %v; want %d, true", n, f.Tasks[i].Name, j, ok, i)
			}
		}
		for _, name := range []string{"", "t", "t-1", "t" + strconv.Itoa(n), "x0"} {
			if j, ok := g.Index(name); ok {
				t.Errorf("%d tasks: Index(%q) = %d, true; want not found", n, name, j)
			}
		}
	}
}

// TestGraphHeldBytes guards what the graph of a big flow holds besides
// the flow: its index of names, its dependencies and dependents and
// its order, all arrays without pointers. It held 63 bytes a task
// here when the index was a map[string]int, scanned by every
// collection, and Deps a slice header a task.
func TestGraphHeldBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the graph of 100,000 tasks")
	}
	const n = 100_000
	f := &Flow{Name: "wide", Tasks: make([]Task, n)}
	for i := range f.Tasks {
		f.Tasks[i] = Task{Name: "t" + strconv.Itoa(i), Argv: []string{"true"}}
	}
	mark := heaptest.Mark()
	g, err := f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	perTask := heaptest.PerItem(mark, n, g)
	t.Logf("a graph holds %.1f bytes a task", perTask)
	if perTask > 40 {
		t.Errorf("a graph holds %.1f bytes a task, want at most 40", perTask)
	}
}
