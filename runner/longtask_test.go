package runner

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

// Once every kind's duration is known, a long task whose best fit is an
// auxiliary alloc it would keep alive alone waits for the primary's slot
// when that frees within a 32nd of its run: "long" (an hour) becomes
// ready at 10 s on an idle auxiliary alloc, the primary's "x" ends at
// 1 min, and "long" starts then, on the primary, and is no demand
// meanwhile. Without estimates, it starts at once on the auxiliary alloc.
// When "x" runs an hour instead of its minute, "long" waits no more than
// a 32nd of its run: the stealer's next call of Demand after that, at
// 3 min, starts it on the auxiliary alloc. A "long" said to take a
// minute, as x does, is no long task: it takes the auxiliary alloc.
func TestLongTaskWaitsForThePrimary(t *testing.T) {
	for _, tc := range []struct {
		estimates   bool
		xRuns, long time.Duration // how long x runs, how long "long" is said to run (it runs an hour)
		start       time.Duration
		on          string
	}{
		{true, time.Minute, time.Hour, time.Minute, "primary"},
		{false, time.Minute, time.Hour, 10 * time.Second, "aux"},
		{true, time.Hour, time.Hour, 3 * time.Minute, "aux"},
		// A "long" said to be no longer than x is of the usual length:
		// it starts at once on the auxiliary alloc, although the
		// primary frees its slot within a 32nd of its run (at 1 min,
		// g being 59 s).
		{true, time.Minute, time.Minute, 59 * time.Second, "aux"},
	} {
		synctest.Test(t, func(t *testing.T) {
			t0 := time.Now()
			var mu sync.Mutex
			var longAt time.Duration
			longOn := "none"
			task := func(name string, est, run time.Duration, after ...string) ebb.Task {
				tk := ebb.Task{Name: name, FuncKey: name, Resources: ebb.Resources{ebb.CPU: 1}, After: after,
					Func: func(ctx context.Context, _ ebb.FuncEnv) error {
						if name == "long" {
							mu.Lock()
							longAt = time.Since(t0)
							mu.Unlock()
						}
						select {
						case <-time.After(run):
						case <-ctx.Done():
							return ctx.Err()
						}
						return nil
					}}
				if tc.estimates {
					tk.Estimate = est
				}
				return tk
			}
			gRun := 10 * time.Second
			if tc.long < time.Hour {
				gRun = 59 * time.Second
			}
			flow := &ebb.Flow{Tasks: []ebb.Task{task("g", gRun, gRun), task("x", time.Minute, tc.xRuns), task("long", tc.long, time.Hour, "g")}}
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			// x's history says it takes a minute: at 59 s it is
			// expected to end in a second.
			e := newEval(t, flow, EvalConfig{Logger: logger, History: stealer.Profile{"x": {time.Minute}}})
			p := memPool(t, ebb.Resources{ebb.CPU: 1}, ebb.Resources{ebb.CPU: 1})
			aux, primary := cpuAlloc(t, p, 1), cpuAlloc(t, p, 1)
			var wg sync.WaitGroup
			// The auxiliary alloc works first and takes "g", the
			// highest-ranked; the primary then takes "x".
			wg.Go(func() { e.work(t.Context(), aux, false, nil) })
			synctest.Wait()
			wg.Go(func() { e.work(t.Context(), primary, true, nil) })
			time.Sleep(30 * time.Second) // synctest's clock: at 30 s
			synctest.Wait()
			waits := tc.estimates && tc.long == time.Hour
			if waits {
				if d := e.Demand(); len(d) > 0 {
					t.Errorf("at 30 s, demand %v, want none: long waits for the primary", d)
				}
			}
			time.Sleep(2*time.Minute + 30*time.Second) // synctest's clock: at 3 min, "long" runs now
			synctest.Wait()
			e.Demand() // the stealer's tick
			synctest.Wait()
			time.Sleep(time.Second) // synctest's clock: the workers take what Demand placed
			synctest.Wait()
			e.mu.Lock()
			for _, w := range e.workers {
				if w.running > 0 && (tc.xRuns == time.Minute || !w.primary) {
					longOn = map[bool]string{true: "primary", false: "aux"}[w.primary]
				}
			}
			e.mu.Unlock()
			wg.Wait()
			if longOn != tc.on {
				t.Errorf("estimates %v: long ran on the %s alloc, want the %s", tc.estimates, longOn, tc.on)
			}
			if waited := strings.Contains(logs.String(), "task waits for a slot on the primary"); waited != waits {
				t.Errorf("estimates %v: logged a wait %v, want %v; log:\n%s", tc.estimates, waited, waits, logs.String())
			}
			if longAt != tc.start {
				t.Errorf("estimates %v: long started at %v, want %v", tc.estimates, longAt, tc.start)
			}
		})
	}
}

// Once every kind's duration is known, a long task whose best fit is an
// auxiliary alloc goes to the primary when the primary has room, though
// the ready work needs more than the auxiliary allocs have free: the
// primary (3 cpu) runs g (2 cpu, 10 s) and y (2 min), the auxiliary
// alloc (2 cpu) w (2 min); at 10 s "long" (an hour) and z (10 s) are
// ready, 2 cpu against the auxiliary alloc's 1 free, long's best fit
// being that alloc. long starts on the primary and z on the auxiliary
// alloc, which idles once w ends rather than run long for an hour.
func TestLongTaskTakesThePrimaryWhenItHasRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		flow := &ebb.Flow{Tasks: []ebb.Task{
			timedTask("g", 2, 10*time.Second), timedTask("y", 1, 2*time.Minute), timedTask("w", 1, 2*time.Minute),
			timedTask("long", 1, time.Hour, "g"), timedTask("z", 1, 10*time.Second, "g"),
		}}
		e := newEval(t, flow, EvalConfig{})
		p := memPool(t, ebb.Resources{ebb.CPU: 3}, ebb.Resources{ebb.CPU: 2})
		primary, aux := cpuAlloc(t, p, 3), cpuAlloc(t, p, 2)
		var wg sync.WaitGroup
		// The primary works first and takes g and y; the auxiliary
		// alloc then takes w.
		wg.Go(func() { e.work(t.Context(), primary, true, nil) })
		synctest.Wait()
		wg.Go(func() { e.work(t.Context(), aux, false, nil) })
		time.Sleep(25 * time.Second) // synctest's clock: z has ended
		synctest.Wait()
		running := runningOn(e)
		if running[true] != 2 || running[false] != 1 {
			t.Errorf("at 25 s, the primary runs %d tasks and the auxiliary alloc %d; want y and long on the primary, w on the auxiliary alloc",
				running[true], running[false])
		}
		wg.Wait()
	})
}
