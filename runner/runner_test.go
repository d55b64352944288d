package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
)

var oneCPU = ebb.Resources{ebb.CPU: 1}

func TestRunSucceeds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := memPool(t, ebb.Resources{ebb.CPU: 4, ebb.Mem: 8 << 30})
		flow := c.diamond(10, oneCPU)
		for i := range flow.Tasks {
			flow.Tasks[i].Func = slowFunc(&c, flow.Tasks[i].Name, time.Minute)
		}
		store := &memStore{}
		r, err := New(Config{Flow: flow, Cluster: static(p), Store: store, Program: "diamond"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := r.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		for _, task := range flow.Tasks {
			if n := c.get(task.Name); n != 1 {
				t.Errorf("task %s ran %d times, want 1", task.Name, n)
			}
		}
		// 1 + 10 (on 4 cpus: 3 rounds) + 1 minutes.
		if got := time.Since(start); got != 5*time.Minute {
			t.Errorf("run took %v, want 5m", got)
		}
		s := r.State()
		if s.Phase != PhaseDone || s.Err != "" || s.Result == nil || s.Result.Ran != 12 || s.Result.Tasks != 12 {
			t.Errorf("state %+v, result %+v", s, s.Result)
		}
		if s.Primary != nil || len(s.Aux) != 0 {
			t.Errorf("allocs still recorded: %+v %+v", s.Primary, s.Aux)
		}
		// The primary took the whole node (4 cpu) for 5 minutes.
		if got := s.TotalResources[ebb.CPU]; got != 20 {
			t.Errorf("total cpu-minutes %v, want 20", got)
		}
		if ids := liveAllocs(t, p); len(ids) != 0 {
			t.Errorf("allocs left: %v", ids)
		}
		if got, want := store.phases(), []Phase{PhaseInit, PhaseEval, PhaseDone}; !slices.Equal(got, want) {
			t.Errorf("saved phases %v, want %v", got, want)
		}
	})
}

func slowFunc(c *counter, name string, d time.Duration) ebb.Func {
	return func(ctx context.Context, _ ebb.FuncEnv) error {
		c.inc(name)
		select {
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func TestTaskFailureFailsRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := memPool(t, ebb.Resources{ebb.CPU: 4})
		cache := newMemCache()
		blocked := make(chan struct{})
		flow := &ebb.Flow{Name: "fails", Tasks: []ebb.Task{
			c.task("ok", oneCPU, nil),
			c.task("stuck", oneCPU, func(ctx context.Context) error {
				close(blocked)
				<-ctx.Done()
				return ctx.Err()
			}, "ok"),
			{Name: "bad", FuncKey: "bad", Resources: oneCPU, After: []string{"ok"}, Func: func(ctx context.Context, env ebb.FuncEnv) error {
				<-blocked
				fmt.Fprintln(env.Stderr, "reference genome not found")
				return errors.New("exit 3")
			}},
			c.task("after-bad", oneCPU, nil, "bad", "stuck"),
		}}
		r, err := New(Config{Flow: flow, Cluster: static(p), Cache: cache}, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = r.Run(t.Context())
		var te *TaskError
		if !errors.As(err, &te) || te.Task != "bad" || !strings.Contains(err.Error(), "reference genome not found") {
			t.Fatalf("Run = %v, want the failure of task bad with its stderr", err)
		}
		if c.get("after-bad") != 0 {
			t.Error("a task downstream of the failure ran")
		}
		if ids := liveAllocs(t, p); len(ids) != 0 {
			t.Errorf("allocs left: %v", ids)
		}
		if s := r.State(); s.Phase != PhaseDone || !strings.Contains(s.Err, `task "bad"`) {
			t.Errorf("state phase %s err %q", s.Phase, s.Err)
		}
		// The finished task stays cached; the killed one is not.
		if cache.len() != 1 {
			t.Errorf("cache holds %d results, want 1 (task ok)", cache.len())
		}
	})
}

func TestTransientFailuresRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := memPool(t)
		fails := 2
		flaky := c.task("flaky", oneCPU, func(ctx context.Context) error {
			if fails > 0 {
				fails--
				return fmt.Errorf("scratch disk busy: %w", ebb.ErrUnavailable)
			}
			return nil
		})
		flaky.Attempts = 3
		r, err := New(Config{Flow: &ebb.Flow{Tasks: []ebb.Task{flaky}}, Cluster: static(p)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := c.get("flaky"); got != 3 {
			t.Errorf("flaky ran %d times, want 3", got)
		}
		if got := r.Progress().Retried; got != 2 {
			t.Errorf("Retried = %d, want 2", got)
		}

		// With fewer attempts than failures, the run fails.
		fails = 5
		flaky.Attempts = 2
		r, err = New(Config{Flow: &ebb.Flow{Tasks: []ebb.Task{flaky}}, Cluster: static(p), Program: "again"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "scratch disk busy") {
			t.Errorf("Run = %v, want the transient error once attempts ran out", err)
		}
	})
}

func TestLostAllocRequeuesItsTasks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := memPool(t, ebb.Resources{ebb.CPU: 2}, ebb.Resources{ebb.CPU: 2})
		flow := &ebb.Flow{}
		for i := range 8 {
			name := fmt.Sprintf("t%d", i)
			flow.Tasks = append(flow.Tasks, ebb.Task{Name: name, FuncKey: name, Resources: oneCPU, Func: slowFunc(&c, name, time.Minute)})
		}
		e := newEval(t, flow, EvalConfig{})
		a1, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 2}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		a2, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 2}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 2)
		go func() { errc <- e.Work(t.Context(), a1) }()
		go func() { errc <- e.Work(t.Context(), a2) }()
		advance(30 * time.Second) // virtual: both allocs are half way through their first tasks
		if got := e.Progress().Running; got != 4 {
			t.Fatalf("running %d, want 4", got)
		}
		if err := p.Kill(a1.ID()); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; !errors.Is(err, ebb.ErrExpired) {
			t.Errorf("Work on the lost alloc = %v, want ErrExpired", err)
		}
		if err := e.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Errorf("Work on the live alloc = %v", err)
		}
		pr := e.Progress()
		if pr.Done != 8 || pr.Lost != 2 {
			t.Errorf("progress %+v, want 8 done and 2 lost", pr)
		}
		reran := 0
		for _, task := range flow.Tasks {
			reran += c.get(task.Name) - 1
		}
		if reran != 2 {
			t.Errorf("%d tasks ran again, want the 2 that were on the lost alloc", reran)
		}
		a2.Free(t.Context())
	})
}

func TestCancelledRunLeavesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := memPool(t)
		flow := c.diamond(6, oneCPU)
		for i := range flow.Tasks {
			flow.Tasks[i].Func = slowFunc(&c, flow.Tasks[i].Name, time.Hour)
		}
		store := &memStore{}
		r, err := New(Config{Flow: flow, Cluster: static(p), Store: store}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Minute)
		defer cancel()
		if err := r.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Run = %v, want DeadlineExceeded", err)
		}
		if ids := liveAllocs(t, p); len(ids) != 0 {
			t.Errorf("allocs left: %v", ids)
		}
		s, _ := store.Load(t.Context())
		if s.Primary != nil || s.Phase != PhaseEval {
			t.Errorf("saved state: phase %s, primary %+v; want eval and no primary", s.Phase, s.Primary)
		}
		// synctest.Test itself fails if a goroutine is left behind.
	})
}

func TestPrimaryLostIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := memPool(t)
		flow := c.diamond(3, oneCPU)
		for i := range flow.Tasks {
			flow.Tasks[i].Func = slowFunc(&c, flow.Tasks[i].Name, time.Minute)
		}
		store := &memStore{}
		r, err := New(Config{Flow: flow, Cluster: static(p), Store: store, Cache: newMemCache()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() { done <- r.Run(t.Context()) }()
		advance(90 * time.Second) // virtual: the source is done, the middle half way
		if err := p.Kill(r.State().Primary.ID); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		s := r.State()
		if s.NumTries != 2 {
			t.Errorf("NumTries = %d, want 2", s.NumTries)
		}
		if got, want := store.phases(), []Phase{PhaseInit, PhaseEval, PhaseRetry, PhaseInit, PhaseEval, PhaseDone}; !slices.Equal(got, want) {
			t.Errorf("phases %v, want %v", got, want)
		}
		if c.get("source") != 1 {
			t.Errorf("source ran %d times; it was cached before the primary was lost", c.get("source"))
		}
		if c.get("mid-00") != 2 {
			t.Errorf("mid-00 ran %d times, want 2 (lost once)", c.get("mid-00"))
		}
		// The source ran in the first try and came from the cache in
		// the second: the run ran it.
		if res := s.Result; res == nil || res.Ran != 5 || res.Cached != 0 || res.Skipped != 0 {
			t.Errorf("result %+v, want 5 run, 0 cached, 0 skipped", res)
		}
	})
}

// A driver that stops in the middle of a run (its process dies) leaves the
// primary and its running execs behind; a new Runner given the State
// re-attaches to both and runs nothing twice.
func TestResumeReattaches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := memPool(t)
		cache := newMemCache()
		flow := c.diamond(3, oneCPU)
		for i := range flow.Tasks {
			flow.Tasks[i].Func = slowFunc(&c, flow.Tasks[i].Name, time.Minute)
		}
		cfg := Config{Flow: flow, Cluster: static(p), Cache: cache}
		r1, err := New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, crash := context.WithCancel(t.Context())
		if more, err := r1.Do(ctx); !more || err != nil {
			t.Fatalf("init: %v, %v", more, err)
		}
		done := make(chan error)
		go func() { _, err := r1.Do(ctx); done <- err }()
		advance(90 * time.Second) // virtual: the middle tasks are running
		crash()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Do = %v, want Canceled", err)
		}
		saved := r1.State()
		if saved.Phase != PhaseEval || saved.Primary == nil {
			t.Fatalf("state after the crash: %+v", saved)
		}

		r2, err := New(cfg, &saved)
		if err != nil {
			t.Fatal(err)
		}
		if err := r2.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		for _, task := range flow.Tasks {
			if n := c.get(task.Name); n != 1 {
				t.Errorf("task %s ran %d times, want 1", task.Name, n)
			}
		}
		if st := p.Stats(); st.Allocs != 1 {
			t.Errorf("%d allocs taken, want 1 (the primary, re-attached)", st.Allocs)
		}
		if ids := liveAllocs(t, p); len(ids) != 0 {
			t.Errorf("allocs left: %v", ids)
		}
	})
}

func TestResumeRefusesAnotherFlow(t *testing.T) {
	var c counter
	p := memPool(t)
	r, err := New(Config{Flow: c.diamond(2, nil), Cluster: static(p)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := r.State()
	if _, err := New(Config{Flow: c.diamond(3, nil), Cluster: static(p)}, &s); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("resume with another flow: %v, want ErrInvalid", err)
	}
	if _, err := New(Config{Flow: c.diamond(2, nil), Cluster: static(p), Params: map[string]string{"x": "1"}}, &s); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("resume with other params: %v, want ErrInvalid", err)
	}
}

func TestTaskTooBigForCluster(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := memPool(t, ebb.Resources{ebb.CPU: 4})
		flow := &ebb.Flow{Tasks: []ebb.Task{c.task("huge", ebb.Resources{ebb.CPU: 64}, nil)}}
		r, err := New(Config{Flow: flow, Cluster: static(p)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Run(t.Context()); !errors.Is(err, ebb.ErrResources) || !strings.Contains(err.Error(), `"huge"`) {
			t.Errorf("Run = %v, want ErrResources naming the task", err)
		}
	})
}

func TestDemand(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := memPool(t, ebb.Resources{ebb.CPU: 2, ebb.Mem: 8 << 30})
		flow := &ebb.Flow{}
		for i := range 10 {
			name := fmt.Sprintf("small-%d", i)
			flow.Tasks = append(flow.Tasks, ebb.Task{Name: name, FuncKey: name, Resources: oneCPU, Func: slowFunc(&c, name, time.Minute)})
		}
		big := ebb.Resources{ebb.CPU: 4}
		flow.Tasks = append(flow.Tasks, ebb.Task{Name: "big", FuncKey: "big", Resources: big, Func: slowFunc(&c, "big", time.Minute)})
		e := newEval(t, flow, EvalConfig{})
		// Nobody works yet: everything is demand, largest first.
		want := []ebb.Demand{{Resources: big, Count: 1}, {Resources: oneCPU, Count: 10}}
		if got := e.Demand(); !demandEqual(got, want) {
			t.Errorf("Demand = %v, want %v", got, want)
		}
		a, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 2}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- e.Work(ctx, a) }()
		synctest.Wait()
		// The alloc runs 2 small tasks; 8 wait, and the big one fits nowhere.
		want = []ebb.Demand{{Resources: big, Count: 1}, {Resources: oneCPU, Count: 8}}
		if got := e.Demand(); !demandEqual(got, want) {
			t.Errorf("Demand = %v, want %v", got, want)
		}
		cancel()
		<-done
		a.Free(t.Context())
	})
}

func demandEqual(a, b []ebb.Demand) bool {
	return slices.EqualFunc(a, b, func(x, y ebb.Demand) bool { return x.Count == y.Count && x.Resources.Equal(y.Resources) })
}

// A primary that does not answer once is not worked until it fails every
// task: the run stops working it, tries again, and succeeds.
func TestUnansweringPrimaryRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := memPool(t)
		p.FailNext(pooltest.OpPut, fmt.Errorf("connection reset: %w", ebb.ErrUnavailable))
		store := &memStore{}
		r, err := New(Config{Flow: c.diamond(3, oneCPU), Cluster: static(p), Store: store}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		if s := r.State(); s.NumTries != 2 {
			t.Errorf("NumTries = %d, want 2", s.NumTries)
		}
		if got := p.Stats().Calls[pooltest.OpPut]; got != 6 {
			t.Errorf("%d Puts, want 6 (5 tasks and the one that failed)", got)
		}
		if ids := liveAllocs(t, p); len(ids) != 0 {
			t.Errorf("allocs left: %v", ids)
		}
	})
}
