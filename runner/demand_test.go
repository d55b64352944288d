package runner_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
	"github.com/ebbflow/ebb/runner"
	"github.com/ebbflow/ebb/stealer"
)

// Demand is a dry run of the placement that Work does: tasks an alloc will
// not start because of MaxExecs count as demand, like tasks that do not
// fit.
func TestDemandHonoursMaxExecs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pooltest.NewPool(pooltest.PoolConfig{Nodes: []ebb.Resources{{ebb.CPU: 8}}})
		defer p.Close()
		block := func(ctx context.Context, _ ebb.FuncEnv) error { <-ctx.Done(); return ctx.Err() }
		flow := &ebb.Flow{}
		for i := range 10 {
			name := fmt.Sprintf("t%d", i)
			flow.Tasks = append(flow.Tasks, ebb.Task{Name: name, FuncKey: name, Func: block,
				Resources: ebb.Resources{ebb.CPU: 1}})
		}
		e := evalOf(t, flow, runner.EvalConfig{MaxExecs: 2})
		a, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 8}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- e.Work(ctx, a) }()
		synctest.Wait()

		if got := e.Progress(); got.Running != 2 || got.Ready != 8 {
			t.Fatalf("progress %+v, want 2 running and 8 ready", got)
		}
		want := []ebb.Demand{{Resources: ebb.Resources{ebb.CPU: 1}, Count: 8}}
		if got := e.Demand(); len(got) != 1 || !got[0].Resources.Equal(want[0].Resources) || got[0].Count != 8 {
			t.Errorf("Demand() = %v, want %v: the alloc has 6 cpu free but starts no third task", got, want)
		}
		cancel()
		<-done
		if err := a.Free(context.Background()); err != nil {
			t.Error(err)
		}
	})
}

// Demand says how long its tasks are expected to run, by kind: running
// tasks of a kind that have run for ten minutes say that kind takes at
// least ten minutes, whatever a short task of another kind took.
func TestDemandDurationByKind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pooltest.NewPool(pooltest.PoolConfig{Nodes: []ebb.Resources{{ebb.CPU: 2}}})
		defer p.Close()
		block := func(ctx context.Context, _ ebb.FuncEnv) error { <-ctx.Done(); return ctx.Err() }
		quick := func(ctx context.Context, _ ebb.FuncEnv) error { time.Sleep(3 * time.Second); return nil }
		flow := &ebb.Flow{Tasks: []ebb.Task{{Name: "split", FuncKey: "split", Func: quick, Resources: ebb.Resources{ebb.CPU: 2}}}}
		for i := range 6 {
			name := fmt.Sprintf("align-%d", i)
			flow.Tasks = append(flow.Tasks, ebb.Task{Name: name, FuncKey: name, Kind: "align", Func: block,
				Resources: ebb.Resources{ebb.CPU: 1}, After: []string{"split"}, Estimate: time.Minute})
		}
		e := evalOf(t, flow, runner.EvalConfig{})
		a, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 2}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- e.Work(ctx, a) }()
		time.Sleep(3 * time.Second) // the split runs
		synctest.Wait()
		d := e.Demand()
		if len(d) != 1 || d[0].Count != 4 || d[0].Duration != time.Minute || !d[0].AtLeast {
			t.Fatalf("Demand() = %v, want 4 align tasks of at least 1m (their hint: none has run long yet)", d)
		}
		time.Sleep(10 * time.Minute)
		if d := e.Demand(); len(d) != 1 || d[0].Duration != 10*time.Minute || !d[0].AtLeast {
			t.Errorf("Demand() = %v, want 4 align tasks of at least 10m: two have run that long", d)
		}
		cancel()
		<-done
		a.Free(context.Background())
	})
}

// evalOf returns a new Eval of flow configured by cfg (with no cache,
// every task runs).
func evalOf(t *testing.T, flow *ebb.Flow, cfg runner.EvalConfig) *runner.Eval {
	t.Helper()
	g, err := flow.Graph()
	if err != nil {
		t.Fatal(err)
	}
	digests, err := g.Digests(nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := runner.NewEval(t.Context(), g, digests, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// workOnOneSlot runs flow to its end in an Eval working one alloc of 1
// cpu, so that its tasks run one at a time in the Eval's order. It is
// called inside a synctest bubble.
func workOnOneSlot(t *testing.T, flow *ebb.Flow) {
	t.Helper()
	workOn(t, flow, 1)
}

// workOn runs flow to its end in an Eval working one alloc of cpus cpu.
// It is called inside a synctest bubble.
func workOn(t *testing.T, flow *ebb.Flow, cpus float64) {
	t.Helper()
	p := pooltest.NewPool(pooltest.PoolConfig{Nodes: []ebb.Resources{{ebb.CPU: cpus}}})
	defer p.Close()
	e := evalOf(t, flow, runner.EvalConfig{})
	a, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: ebb.Resources{ebb.CPU: cpus}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Free(context.Background())
	if err := e.Work(t.Context(), a); err != nil {
		t.Fatal(err)
	}
}

// Of the ready tasks of one shape, the one that starts the longest chain
// to the end of the flow runs first.
func TestReadyByRank(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var order []string
		task := func(name string, after ...string) ebb.Task {
			return ebb.Task{Name: name, FuncKey: name, Resources: ebb.Resources{ebb.CPU: 1}, After: after,
				Func: func(context.Context, ebb.FuncEnv) error { order = append(order, name); return nil }}
		}
		// "short" is listed first, but "long" heads a chain of three.
		workOnOneSlot(t, &ebb.Flow{Tasks: []ebb.Task{task("short"), task("long"), task("long-2", "long"), task("long-3", "long-2")}})
		if len(order) == 0 || order[0] != "long" {
			t.Errorf("ran %v, want long first: it starts the longest chain", order)
		}
	})
}

// Once every kind's duration is known, the task that starts the longest
// chain runs first across shapes too: a small task heading a chain of
// three starts before a bigger one that only ends the flow. While the
// ranks only count tasks, the larger shape goes first.
func TestReadyByRankAcrossShapesOnceTimed(t *testing.T) {
	for _, tc := range []struct {
		estimate time.Duration
		first    string
	}{{time.Second, "small"}, {0, "big"}} {
		synctest.Test(t, func(t *testing.T) {
			var order []string
			task := func(name string, cpu float64, after ...string) ebb.Task {
				return ebb.Task{Name: name, FuncKey: name, Resources: ebb.Resources{ebb.CPU: cpu}, After: after, Estimate: tc.estimate,
					Func: func(context.Context, ebb.FuncEnv) error { order = append(order, name); return nil }}
			}
			workOn(t, &ebb.Flow{Tasks: []ebb.Task{task("big", 4), task("small", 1), task("small-2", 1, "small"), task("small-3", 1, "small-2")}}, 4)
			if len(order) == 0 || order[0] != tc.first {
				t.Errorf("estimates %v: ran %v, want %s first", tc.estimate, order, tc.first)
			}
		})
	}
}

// Ready tasks take a new order when a kind's first duration is learned:
// "first" (kind L, said to take 1 s) turns out to take 10 minutes, so the
// chain of two L tasks behind y1 is now far longer than the chain of three
// 1 s tasks behind x1, which ranked first when the run started.
func TestReadyRerankedWhenAKindIsLearned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var order []string
		task := func(name, kind string, took time.Duration, after ...string) ebb.Task {
			return ebb.Task{Name: name, FuncKey: name, Kind: kind, Estimate: time.Second,
				Resources: ebb.Resources{ebb.CPU: 1}, After: after,
				Func: func(context.Context, ebb.FuncEnv) error {
					order = append(order, name)
					time.Sleep(took)
					return nil
				}}
		}
		workOnOneSlot(t, &ebb.Flow{Tasks: []ebb.Task{
			task("first", "L", 10*time.Minute), task("g2", "S", time.Second, "first"),
			task("g3", "S", time.Second, "g2"), task("g4", "S", time.Second, "g3"),
			task("x1", "S", time.Second), task("x2", "S", time.Second, "x1"), task("x3", "S", time.Second, "x2"),
			task("y1", "L", 10*time.Minute), task("y2", "L", 10*time.Minute, "y1"),
		}})
		if len(order) < 2 || order[0] != "first" || order[1] != "y1" {
			t.Errorf("ran %v, want first, then y1: once L is seen to take 10 min, y1 starts the longest chain", order)
		}
	})
}

// Upcoming tells the next wave of a flow before it is ready: while a
// gather is ready, or runs, the tasks behind it, timed by the gather's
// estimate, less the one that takes the gather's slot; and the merge
// after them, timed by theirs (wider than their slots).
func TestUpcomingTellsTheNextWave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pooltest.NewPool(pooltest.PoolConfig{Nodes: []ebb.Resources{{ebb.CPU: 1}}})
		defer p.Close()
		block := func(ctx context.Context, _ ebb.FuncEnv) error { <-ctx.Done(); return ctx.Err() }
		flow := &ebb.Flow{Tasks: []ebb.Task{{Name: "gather", FuncKey: "gather", Func: block,
			Resources: ebb.Resources{ebb.CPU: 1}, Estimate: 2 * time.Minute}}}
		var maps []string
		for i := range 6 {
			name := fmt.Sprintf("map-%d", i)
			maps = append(maps, name)
			flow.Tasks = append(flow.Tasks, ebb.Task{Name: name, FuncKey: name, Kind: "map", Func: block,
				Resources: ebb.Resources{ebb.CPU: 1}, After: []string{"gather"}, Estimate: 30 * time.Second})
		}
		flow.Tasks = append(flow.Tasks, ebb.Task{Name: "merge", FuncKey: "merge", Func: block,
			Resources: ebb.Resources{ebb.CPU: 2}, After: maps, Estimate: time.Minute})
		e := evalOf(t, flow, runner.EvalConfig{})
		// Before anything runs the gather is ready: what it makes ready
		// is upcoming, no sooner than its estimate from now (untimed:
		// when it starts is not known).
		if got := e.Upcoming(); len(got) != 2 || got[0].Count != 1 || got[0].In != 150*time.Second || !got[0].Untimed ||
			got[1].Count != 5 || got[1].In != 2*time.Minute || got[1].Duration != 30*time.Second || !got[1].Untimed {
			t.Errorf("Upcoming() with the gather ready = %+v, want the merge no sooner than 2m30s and 5 maps of 30 s no sooner than 2 min, untimed", got)
		}
		a, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- e.Work(ctx, a) }()
		synctest.Wait()
		time.Sleep(30 * time.Second) // the gather has run 30 s (synctest's clock)

		got := e.Upcoming()
		if len(got) != 2 {
			t.Fatalf("Upcoming() = %+v, want the six maps and the merge", got)
		}
		if m := got[0]; m.Count != 1 || m.In != 2*time.Minute || m.Duration != time.Minute || m.Untimed {
			t.Errorf("Upcoming()[0] = %+v, want the merge of 1 min ready in 2 min", m)
		}
		if m := got[1]; m.Count != 5 || m.In != 90*time.Second || m.Duration != 30*time.Second || m.Untimed {
			t.Errorf("Upcoming()[1] = %+v, want 5 maps of 30 s ready in 90 s", m)
		}
		// The longest chain: the gather's 90 s left, then a map and the
		// merge; the work behind it, six maps of 30 s and the merge on 2
		// cpus; every kind has an estimate, so ready tasks start in the
		// order of chains so measured. On 4 cpus the six maps take two
		// rounds after the gather, and the merge a minute after them.
		wantCritical := stealer.Critical{End: 3 * time.Minute,
			Chains: []stealer.Chain{{In: 90 * time.Second, Length: 90 * time.Second}}, Work: 5 * time.Minute, Ranked: true,
			Packed: 3*time.Minute + 30*time.Second}
		if c := e.Critical(4); c.End != wantCritical.End || !slices.Equal(c.Chains, wantCritical.Chains) ||
			c.Work != wantCritical.Work || c.Ranked != wantCritical.Ranked || c.Packed != wantCritical.Packed {
			t.Errorf("Critical() = %+v, want %+v", c, wantCritical)
		}
		cancel()
		<-done
		if err := a.Free(context.Background()); err != nil {
			t.Error(err)
		}
	})
}

// A task that ran twice its estimate says the chain behind it will too
// (stealer.Lineage): once it is done, Critical expects the next step and
// the one after it to take twice their estimates.
func TestCriticalScalesByLineage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pooltest.NewPool(pooltest.PoolConfig{Nodes: []ebb.Resources{{ebb.CPU: 1}}})
		defer p.Close()
		block := func(ctx context.Context, _ ebb.FuncEnv) error { <-ctx.Done(); return ctx.Err() }
		slow := func(ctx context.Context, _ ebb.FuncEnv) error {
			select {
			case <-time.After(2 * time.Minute):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		one := ebb.Resources{ebb.CPU: 1}
		flow := &ebb.Flow{Tasks: []ebb.Task{
			{Name: "a", FuncKey: "a", Func: slow, Resources: one, Estimate: time.Minute},
			{Name: "b", FuncKey: "b", Func: block, Resources: one, After: []string{"a"}, Estimate: 10 * time.Minute},
			{Name: "c", FuncKey: "c", Func: block, Resources: one, After: []string{"b"}, Estimate: 5 * time.Minute},
		}}
		e := evalOf(t, flow, runner.EvalConfig{})
		a, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: one}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- e.Work(ctx, a) }()
		time.Sleep(2*time.Minute + time.Second) // a is done, b runs (synctest's clock)
		synctest.Wait()
		// b, 10 min, runs for 20 (1 s of it gone); c, 5 min, for 10.
		if c, want := e.Critical(1), 30*time.Minute-time.Second; c.End != want {
			t.Errorf("Critical().End = %v, want %v: b and c twice their estimates, as a ran", c.End, want)
		}
		cancel()
		<-done
		if err := a.Free(context.Background()); err != nil {
			t.Error(err)
		}
	})
}
