package runner

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// A drained alloc finishes what it runs, takes nothing new, and its Work
// returns; the tasks it did not take run elsewhere.
func TestDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := memPool(t, ebb.Resources{ebb.CPU: 2}, ebb.Resources{ebb.CPU: 2})
		flow := &ebb.Flow{}
		for i := range 6 {
			name := fmt.Sprintf("t%d", i)
			flow.Tasks = append(flow.Tasks, ebb.Task{Name: name, FuncKey: name, Resources: oneCPU, Func: slowFunc(&c, name, time.Minute)})
		}
		e := newEval(t, flow, EvalConfig{})
		two := ebb.Requirements{Min: ebb.Resources{ebb.CPU: 2}}
		a1, _ := pool.Allocate(t.Context(), p, two, nil)
		start := time.Now()
		errc := make(chan error, 2)
		go func() { errc <- e.Work(t.Context(), a1) }()
		synctest.Wait()
		st := e.Load()
		if len(st) != 1 || st[0].Running != 2 || !st[0].IdleSince.IsZero() || !st[0].Free.IsZero() {
			t.Fatalf("Allocs = %+v, want one alloc running 2 tasks, nothing free", st)
		}
		if !e.Drain(a1.ID()) || e.Drain("no-such-alloc") {
			t.Fatal("Drain found the wrong allocs")
		}
		if err := <-errc; err != nil {
			t.Fatalf("Work on a drained alloc = %v, want nil", err)
		}
		if d := time.Since(start); d != time.Minute {
			t.Errorf("drained Work returned after %v, want 1m (when its tasks finished)", d)
		}
		if got := e.Progress(); got.Done != 2 || got.Ready != 4 {
			t.Errorf("progress %+v, want 2 done and 4 ready", got)
		}
		if got := e.Load(); len(got) != 0 {
			t.Errorf("a drained alloc still works: %+v", got)
		}
		a2, _ := pool.Allocate(t.Context(), p, two, nil)
		go func() { errc <- e.Work(context.Background(), a2) }()
		if err := e.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		<-errc
		for _, task := range flow.Tasks {
			if n := c.get(task.Name); n != 1 {
				t.Errorf("task %s ran %d times", task.Name, n)
			}
		}
		a1.Free(t.Context())
		a2.Free(t.Context())
	})
}

// Ready tasks go to the alloc with the least room that holds them, so that
// big allocs stay free for big tasks.
func TestPlacementBestFit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := memPool(t, ebb.Resources{ebb.CPU: 10}, ebb.Resources{ebb.CPU: 2})
		big, _ := pool.Allocate(t.Context(), p, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 10}}, nil)
		small, _ := pool.Allocate(t.Context(), p, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 2}}, nil)
		// Everything waits for a first task, so that both allocs work
		// when the rest becomes ready.
		flow := &ebb.Flow{Tasks: []ebb.Task{{Name: "first", FuncKey: "first", Func: slowFunc(&c, "first", time.Second)}}}
		for i := range 3 {
			name := fmt.Sprintf("t%d", i)
			flow.Tasks = append(flow.Tasks, ebb.Task{Name: name, FuncKey: name, Resources: oneCPU, Func: slowFunc(&c, name, time.Minute), After: []string{"first"}})
		}
		// The 6-cpu task fits only the big alloc.
		flow.Tasks = append(flow.Tasks, ebb.Task{Name: "wide", FuncKey: "wide", Resources: ebb.Resources{ebb.CPU: 6}, Func: slowFunc(&c, "wide", time.Minute), After: []string{"first"}})
		e := newEval(t, flow, EvalConfig{})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go e.Work(ctx, big)
		go e.Work(ctx, small)
		advance(2 * time.Second)
		running := map[string]int{}
		for _, l := range e.Load() {
			running[l.ID] = l.Running
		}
		// wide (6) goes to the big alloc, leaving it 4 free; the small
		// alloc, with 2 free, is the better fit for two small tasks, and
		// the third goes to the big one.
		if running[small.ID()] != 2 || running[big.ID()] != 2 {
			t.Errorf("running: small alloc %d, big alloc %d; want 2 and 2", running[small.ID()], running[big.ID()])
		}
		if err := e.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		cancel()
	})
}
