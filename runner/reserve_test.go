package runner

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
)

// A task that fits no alloc's free room reserves one that holds it
// whole. On a primary of 4 cpu, g (5 s) and s1–s3 (40 s) start at 0 and
// s4–s6 (40 s) wait; big (4 cpu, 10 s), behind g, is ready at 5 s and
// reserves the primary, whose slots then take nothing else: big starts
// at 40 s, when s1–s3 end, and child, behind it, at 50 s. Meanwhile
// the demand is big and s4–s6, which the primary will not take. Without
// the reservation s4 would take g's slot at 5 s, s5 and s6 two of
// s1–s3's at 40 s, and big would start at 80 s.
func TestLargeTaskReservesAnAlloc(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		var mu sync.Mutex
		started := map[string]time.Duration{}
		task := func(name string, cpu float64, run time.Duration, after ...string) ebb.Task {
			return ebb.Task{Name: name, FuncKey: name, Resources: ebb.Resources{ebb.CPU: cpu}, After: after,
				Func: func(ctx context.Context, _ ebb.FuncEnv) error {
					mu.Lock()
					started[name] = time.Since(t0)
					mu.Unlock()
					select {
					case <-time.After(run):
					case <-ctx.Done():
						return ctx.Err()
					}
					return nil
				}}
		}
		flow := &ebb.Flow{Tasks: []ebb.Task{task("g", 1, 5*time.Second)}}
		for i := range 6 {
			flow.Tasks = append(flow.Tasks, task(fmt.Sprintf("s%d", i+1), 1, 40*time.Second))
		}
		flow.Tasks = append(flow.Tasks, task("big", 4, 10*time.Second, "g"), task("child", 1, 100*time.Second, "big"))
		e := newEval(t, flow, EvalConfig{})
		p := memPool(t, ebb.Resources{ebb.CPU: 4})
		a := cpuAlloc(t, p, 4)
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := e.work(t.Context(), a, true, nil); err != nil {
				t.Error(err)
			}
		})
		time.Sleep(10 * time.Second) // synctest's clock
		synctest.Wait()
		want := map[float64]int{4: 1, 1: 3}
		got := map[float64]int{}
		for _, d := range e.Demand() {
			got[d.Resources[ebb.CPU]] += d.Count
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("demand at 10 s: tasks by cpus %v, want %v", got, want)
		}
		wg.Wait()
		for name, at := range map[string]time.Duration{"big": 40 * time.Second, "child": 50 * time.Second, "s4": 50 * time.Second} {
			if started[name] != at {
				t.Errorf("%s started at %v, want %v", name, started[name], at)
			}
		}
	})
}

// A long task does not take a primary reserved for a larger one. Every
// kind's duration known, a primary of 4 cpu runs g (5 s), p1 and p2
// (1 min) from 0 s, and an auxiliary alloc of 1 cpu idles; at 5 s big
// (4 cpu, 10 s, heading a 2-hour child) and long (1 cpu, an hour) are
// ready. big ranks first, fits nowhere and reserves the primary; long's
// best fit is then the auxiliary alloc, and it starts there, not beside
// p1 and p2, where big would wait an hour for it.
func TestLongTaskLeavesAReservedPrimary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		flow := &ebb.Flow{Tasks: []ebb.Task{
			timedTask("g", 1, 5*time.Second), timedTask("p1", 1, time.Minute), timedTask("p2", 1, time.Minute),
			timedTask("big", 4, 10*time.Second, "g"), timedTask("child", 1, 2*time.Hour, "big"), timedTask("long", 1, time.Hour, "g"),
		}}
		e := newEval(t, flow, EvalConfig{})
		p := memPool(t, ebb.Resources{ebb.CPU: 4}, ebb.Resources{ebb.CPU: 1})
		primary, aux := cpuAlloc(t, p, 4), cpuAlloc(t, p, 1)
		var wg sync.WaitGroup
		// The primary works first and takes g, p1 and p2.
		wg.Go(func() { e.work(t.Context(), primary, true, nil) })
		synctest.Wait()
		wg.Go(func() { e.work(t.Context(), aux, false, nil) })
		time.Sleep(6 * time.Second) // synctest's clock: big and long are ready
		synctest.Wait()
		running := runningOn(e)
		if running[true] != 2 || running[false] != 1 {
			t.Errorf("at 6 s, the primary runs %d tasks and the auxiliary alloc %d; want p1 and p2 on the primary, long on the auxiliary alloc",
				running[true], running[false])
		}
		wg.Wait()
	})
}
