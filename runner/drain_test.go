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
		g, _ := flow.Graph()
		digests, _ := g.Digests(nil)
		e, err := NewEval(t.Context(), g, digests, EvalConfig{})
		if err != nil {
			t.Fatal(err)
		}
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
