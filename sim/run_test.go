package sim

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

func cpu(n float64) ebb.Resources { return ebb.Resources{ebb.CPU: n} }

// tasks returns tasks of the given durations, each needing res, arriving
// at 0.
func tasks(res ebb.Resources, durs ...time.Duration) []Task {
	out := make([]Task, len(durs))
	for i, d := range durs {
		out[i] = Task{ID: string(rune('a' + i)), Duration: d, Resources: res}
	}
	return out
}

func run(t *testing.T, w *Workload, p stealer.Policy, c Cluster) Metrics {
	t.Helper()
	r, err := Run(context.Background(), Config{Workload: w, Policy: p, Cluster: c, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return r.Metrics
}

func near(got, want float64) bool { return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want)) }

func check(t *testing.T, name string, got, want float64) {
	t.Helper()
	if !near(got, want) {
		t.Errorf("%s = %v, want %v", name, got, want)
	}
}

// A small cluster whose every figure is easy to follow by hand.
func handCluster(primary, shape float64, boot time.Duration) Cluster {
	return Cluster{
		Primary: cpu(primary), Shapes: []ebb.Resources{cpu(shape)},
		Boot: Dist{Kind: Fixed, A: boot}, MaxWorkers: 4, Price: 1,
	}
}

func TestPrimaryOnlyMakespan(t *testing.T) {
	// 4 tasks of 10 s on a primary of 2 cpu: two waves, 20 s.
	w := &Workload{Name: "four", Tasks: tasks(cpu(1), 10*time.Second, 10*time.Second, 10*time.Second, 10*time.Second)}
	c := handCluster(2, 2, 100*time.Second)
	c.MaxWorkers = 1
	m := run(t, w, NewStatic(StaticConfig{}, c), c)
	check(t, "makespan", m.Makespan, 20)
	// LB: critical path 10 s; T*: P·L = 200 ≥ W = 40, so T* = W/P = 20.
	check(t, "lower bound", m.LowerBound, 20)
	check(t, "ratio", m.MakespanRatio, 1)
	// Waits 0, 0, 10, 10 by nearest rank.
	check(t, "wait p50", m.WaitP50, 0)
	check(t, "wait p95", m.WaitP95, 10)
	check(t, "wait p99", m.WaitP99, 10)
	check(t, "waste", m.Waste, 0)
	check(t, "cost", m.Cost, 0)
	if m.WastePct != nil {
		t.Errorf("waste pct = %v, want nil (no busy time on auxiliary allocs)", *m.WastePct)
	}
	if m.ScaleEvents != 0 || m.BusyKills != 0 {
		t.Errorf("scale events %d, busy kills %d, want 0, 0", m.ScaleEvents, m.BusyKills)
	}
	check(t, "work", m.Work, 40.0/60)
}

// Ready tasks take a new order when a kind's first duration is learned,
// as runner.Eval's do. On a primary of 2 cpu, s0 (kind S, 1 s) and l0
// (kind L, 100 s) start at 0, blk (kind M) holds the other slot from 1 s
// to 151 s; x1 → x2 → x3 (S) and y1 → y2 (L) arrive at 2 s, when S is
// known (1 s) and L is not (the mean of the known kinds, 1 s): x1's chain
// ranks first. When l0 ends at 100 s, L is known to take 100 s, y1's chain
// outranks x1's, and y1 starts: 300 s in all, where x1 first is 301 s.
func TestLearnedKindReordersReadyTasks(t *testing.T) {
	task := func(id, kind string, at, took time.Duration, deps ...int) Task {
		return Task{ID: id, Kind: kind, Arrival: at, Duration: took, Resources: cpu(1), Deps: deps}
	}
	w := &Workload{Name: "learned", Tasks: []Task{
		task("s0", "S", 0, time.Second), task("l0", "L", 0, 100*time.Second), task("blk", "M", 0, 150*time.Second),
		task("x1", "S", 2*time.Second, time.Second), task("x2", "S", 2*time.Second, time.Second, 3),
		task("x3", "S", 2*time.Second, time.Second, 4),
		task("y1", "L", 2*time.Second, 100*time.Second), task("y2", "L", 2*time.Second, 100*time.Second, 6),
	}}
	c := handCluster(2, 2, 1000*time.Hour)
	c.MaxWorkers = 1
	m := run(t, w, NewStatic(StaticConfig{}, c), c)
	check(t, "makespan", m.Makespan, 300)
}

func TestNeverUsedWaste(t *testing.T) {
	// One task of 100 s runs on the primary from t=0; the static policy
	// asks for a worker of 4 cpu at t=0, which arrives at t=10 and gets
	// nothing to do until the run ends at t=100.
	w := &Workload{Name: "one", Tasks: tasks(cpu(1), 100*time.Second)}
	c := handCluster(1, 4, 10*time.Second)
	c.MaxWorkers, c.Price, c.Quantum = 1, 2, time.Minute
	m := run(t, w, NewStatic(StaticConfig{Workers: 1}, c), c)
	check(t, "makespan", m.Makespan, 100)
	check(t, "never used", m.WasteNeverUsed, 4*90.0/60)
	check(t, "boot", m.WasteBoot, 4*10.0/60)
	check(t, "idle tail", m.WasteIdleTail, 0)
	check(t, "slack", m.WasteSlack, 0)
	check(t, "waste", m.Waste, 4*100.0/60)
	check(t, "allocated", m.Allocated, 4*90.0/60)
	if m.WastePct != nil {
		t.Errorf("waste pct = %v, want nil (nothing ran on the worker)", *m.WastePct)
	}
	// Billed from launch (0) to release (100 s), rounded up to 2 min, at
	// 2 per cpu-minute for 4 cpu.
	check(t, "cost", m.Cost, 2*4*2)
	if m.Acquisitions != 1 || m.Releases != 1 || m.ScaleEvents != 2 {
		t.Errorf("acquisitions %d, releases %d, scale events %d; want 1, 1, 2", m.Acquisitions, m.Releases, m.ScaleEvents)
	}
}

// thrashWorkload: two tasks of 20 s at t=0 and two at t=40, on a primary
// of 1 cpu, workers of 1 cpu booting in 5 s.
func thrashWorkload() (*Workload, Cluster) {
	w := &Workload{Name: "thrash", Tasks: tasks(cpu(1), 20*time.Second, 20*time.Second, 20*time.Second, 20*time.Second)}
	w.Tasks[2].Arrival, w.Tasks[3].Arrival = 40*time.Second, 40*time.Second
	return w, handCluster(1, 1, 5*time.Second)
}

func TestThrash(t *testing.T) {
	// With an idle timeout of 10 s: b runs on a worker from 5 s to 25 s,
	// which is drained and freed at 35 s; at 40 s d needs a worker again:
	// a re-buy 5 s after the release, within twice the timeout (20 s).
	w, c := thrashWorkload()
	m := run(t, w, NewReflow(ReflowConfig{IdleTimeout: 10 * time.Second}), c)
	check(t, "makespan", m.Makespan, 65)
	if m.Acquisitions != 2 || m.Rebuys != 1 {
		t.Errorf("acquisitions %d, re-buys %d; want 2, 1", m.Acquisitions, m.Rebuys)
	}
	check(t, "thrash", m.Thrash, 50)
	check(t, "boot", m.WasteBoot, 10.0/60)
	check(t, "idle tail", m.WasteIdleTail, 10.0/60) // 25 s → 35 s
	check(t, "busy aux", m.BusyAux, 40.0/60)
	check(t, "waste", m.Waste, 20.0/60)
	check(t, "waste pct", *m.WastePct, 50)
	check(t, "cost", m.Cost, 60.0/60) // lives 0–35 s and 40–65 s, exactly billed
	check(t, "wait p99", m.WaitP99, 5)

	// With 25 s the worker is still held at 40 s: one acquisition, no
	// re-buy.
	m = run(t, w, NewReflow(ReflowConfig{IdleTimeout: 25 * time.Second}), c)
	if m.Acquisitions != 1 || m.Rebuys != 0 || m.Thrash != 0 {
		t.Errorf("idle timeout 25s: acquisitions %d, re-buys %d, thrash %v; want 1, 0, 0", m.Acquisitions, m.Rebuys, m.Thrash)
	}
	check(t, "makespan", m.Makespan, 60)
}

func TestThrashMatchesEachReleaseOnce(t *testing.T) {
	// As TestThrash, with a third task at 40 s: two acquisitions (asked
	// for at 40 s and 45 s) follow the one release (35 s), both within
	// the window, but only one re-buys it.
	w, c := thrashWorkload()
	w.Tasks = append(w.Tasks, Task{ID: "e", Arrival: 40 * time.Second, Duration: 20 * time.Second, Resources: cpu(1)})
	m := run(t, w, NewReflow(ReflowConfig{IdleTimeout: 10 * time.Second}), c)
	if m.Acquisitions != 3 || m.Rebuys != 1 {
		t.Errorf("acquisitions %d, re-buys %d; want 3, 1", m.Acquisitions, m.Rebuys)
	}
}

// changingTimer is a reflow policy that tells an idle timeout of before
// until 36 s into the run and of after from then on.
type changingTimer struct {
	*Reflow
	before, after time.Duration
}

func (p changingTimer) IdleTimeout(s stealer.Snapshot) (time.Duration, int) {
	if s.Now.Sub(epoch) < 36*time.Second {
		return p.before, 0
	}
	return p.after, 0
}

func TestThrashJudgesAReleaseByItsOwnTimeout(t *testing.T) {
	// As TestThrash: the worker is drained and freed at 35 s and bought
	// again at 40 s, 5 s later. The idle timeout the policy tells when
	// it drains decides, not the one it tells when it asks again.
	w, c := thrashWorkload()
	for _, tc := range []struct {
		before, after time.Duration
		rebuys        int
	}{
		{2 * time.Second, 100 * time.Second, 0}, // released under 2 s: 5 s later is not soon
		{10 * time.Second, time.Second, 1},      // released under 10 s: 5 s later is
	} {
		p := changingTimer{NewReflow(ReflowConfig{IdleTimeout: 10 * time.Second}), tc.before, tc.after}
		m := run(t, w, p, c)
		if m.Acquisitions != 2 || m.Rebuys != tc.rebuys {
			t.Errorf("idle timeout %v at the release, %v at the re-buy: acquisitions %d, re-buys %d; want 2, %d",
				tc.before, tc.after, m.Acquisitions, m.Rebuys, tc.rebuys)
		}
	}
}

func TestThrashFallsBackOnConfigIdleTimeout(t *testing.T) {
	w, c := thrashWorkload()
	inner := NewReflow(ReflowConfig{IdleTimeout: 10 * time.Second})
	p := stealer.PolicyFunc(inner.Plan) // hides IdleTimeout
	for _, tc := range []struct {
		idle   time.Duration
		rebuys int
	}{{0, 0}, {2 * time.Second, 0}, {3 * time.Second, 1}} {
		r, err := Run(context.Background(), Config{Workload: w, Policy: p, Cluster: c, IdleTimeout: tc.idle})
		if err != nil {
			t.Fatal(err)
		}
		// The re-buy comes 5 s after the release: a re-buy when 5 s is
		// less than twice the idle timeout.
		if got := r.Metrics.Rebuys; got != tc.rebuys {
			t.Errorf("Config.IdleTimeout %v: re-buys %d, want %d", tc.idle, got, tc.rebuys)
		}
	}
}

// drainAll buys one alloc when there is demand and nothing held or asked
// for, and drains every held alloc at every call, busy or not.
func drainAll(s stealer.Snapshot) stealer.Plan {
	var p stealer.Plan
	for _, h := range s.Held {
		if !h.Draining {
			p.Drain = append(p.Drain, stealer.Drain{AllocID: h.ID})
		}
	}
	if len(s.Demand) > 0 && len(s.Held) == 0 && len(s.Pending) == 0 {
		p.Acquire = []stealer.Request{{Requirements: ebb.Requirements{Min: cpu(1)}}}
	}
	return p
}

func TestBusyDrainNeverKills(t *testing.T) {
	// b is placed on the worker the moment it is granted (5 s), before
	// the policy looks: the drain finds it busy, and the worker is freed
	// only when b is done (25 s).
	w := &Workload{Name: "drain", Tasks: tasks(cpu(1), 20*time.Second, 20*time.Second)}
	c := handCluster(1, 1, 5*time.Second)
	m := run(t, w, stealer.PolicyFunc(drainAll), c)
	if m.BusyDrains != 1 || m.BusyKills != 0 || m.Drains != 1 {
		t.Errorf("drains %d, busy drains %d, busy kills %d; want 1, 1, 0", m.Drains, m.BusyDrains, m.BusyKills)
	}
	check(t, "makespan", m.Makespan, 25)
	check(t, "idle tail", m.WasteIdleTail, 0)
	check(t, "allocated", m.Allocated, 20.0/60)
}

func TestLargestFirstBestFit(t *testing.T) {
	// A primary of 4 cpu; four 1-cpu tasks listed before one 4-cpu task.
	// The 4-cpu task starts first (largest shapes first), the others
	// wait for it.
	w := &Workload{Name: "shapes", Tasks: tasks(cpu(1), 10*time.Second, 10*time.Second, 10*time.Second, 10*time.Second)}
	w.Tasks = append(w.Tasks, Task{ID: "big", Duration: 30 * time.Second, Resources: cpu(4)})
	c := handCluster(4, 4, time.Hour)
	m := run(t, w, NewStatic(StaticConfig{}, c), c)
	check(t, "makespan", m.Makespan, 40)
	check(t, "wait p50", m.WaitP50, 30)
}

func TestRankBeforeSizeOnceTimed(t *testing.T) {
	// A primary of 4 cpu; a 4-cpu task that ends the flow, and a 1-cpu
	// task heading a chain of three, all of 10 s. With every kind's
	// duration known (from Memory), the chain starts first (it is the
	// longest path to the end); at 20 s its last task ranks as the big
	// one does, and the larger goes first: the big task waits 20 s.
	// Without, the largest shape goes first: the big task runs at once
	// and the chain's head waits 10 s.
	w := &Workload{Name: "ranks", Tasks: tasks(cpu(1), 10*time.Second, 10*time.Second, 10*time.Second)}
	for i := range w.Tasks {
		w.Tasks[i].Kind = "chain"
	}
	w.Tasks[1].Deps, w.Tasks[2].Deps = []int{0}, []int{1}
	w.Tasks = append(w.Tasks, Task{ID: "big", Kind: "big", Duration: 10 * time.Second, Resources: cpu(4)})
	c := handCluster(4, 4, time.Hour)
	for _, tc := range []struct {
		mem  *Memory
		wait float64
	}{
		{&Memory{Durations: stealer.Profile{"chain": {10 * time.Second}, "big": {10 * time.Second}}}, 20},
		{nil, 10},
	} {
		r, err := Run(context.Background(), Config{Workload: w, Policy: NewStatic(StaticConfig{}, c), Cluster: c, Seed: 1, Memory: tc.mem})
		if err != nil {
			t.Fatal(err)
		}
		check(t, "makespan", r.Metrics.Makespan, 40)
		check(t, "wait p99", r.Metrics.WaitP99, tc.wait)
	}
}

// A run hands each task's size against its kind to the next through
// its Memory, as runner.Runner does through a flow's history: of three
// tasks of one kind on one cpu, the one that ran longest starts first
// the next time, since it ends the flow last.
func TestMemoryCarriesTaskSizes(t *testing.T) {
	w := &Workload{Name: "sizes", Tasks: tasks(cpu(1), 10*time.Second, 40*time.Second, 10*time.Second)}
	for i := range w.Tasks {
		w.Tasks[i].Kind = "k"
	}
	c := handCluster(1, 1, time.Hour)
	var mem Memory
	for _, wait := range []float64{
		10, // first come first: a, then b, then c
		40, // b first, then a and c
	} {
		r, err := Run(context.Background(), Config{Workload: w, Policy: NewStatic(StaticConfig{}, c), Cluster: c, Seed: 1, Memory: &mem})
		if err != nil {
			t.Fatal(err)
		}
		check(t, "makespan", r.Metrics.Makespan, 60)
		check(t, "wait p50", r.Metrics.WaitP50, wait)
	}
	if mem.Sizes["b"] < 1.5 || mem.Sizes["a"] > 0.75 || mem.Sizes["c"] > 0.75 {
		t.Errorf("Memory.Sizes = %v, want b about twice its kind's mean, a and c about half", mem.Sizes)
	}
}

func TestFreeIndexBestFit(t *testing.T) {
	sp := newSpace()
	sp.add(ebb.Resources{ebb.CPU: 1, ebb.Mem: 1})
	f := newFreeIndex(sp)
	mk := func(num int, c, mem float64) *alloc {
		a := &alloc{num: num, free: sp.vec(ebb.Resources{ebb.CPU: c, ebb.Mem: mem * (1 << 30)}), bpos: -1}
		f.insert(a)
		return a
	}
	a2 := mk(2, 2, 4)
	a4 := mk(1, 4, 16)
	a8 := mk(3, 8, 32)
	a4b := mk(4, 4, 16)
	need := func(c, mem float64) *alloc {
		v := sp.vec(ebb.Resources{ebb.CPU: c, ebb.Mem: mem * (1 << 30)})
		return f.bestFit(v, sp.size(v))
	}
	for _, tc := range []struct {
		name      string
		got, want *alloc
	}{
		{"1 cpu goes to the smallest", need(1, 1), a2},
		{"3 cpu to the smaller of the 4s, the lowest numbered", need(3, 1), a4},
		{"memory rules out the small one", need(1, 8), a4},
		{"only the 8 holds 6 cpu", need(6, 1), a8},
		{"nothing holds 9", need(9, 1), nil},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	f.remove(a4)
	if got := need(3, 1); got != a4b {
		t.Errorf("after removing a4: got %v, want a4b", got)
	}
	if f.remove(a4); len(f.byKey) != 3 {
		t.Errorf("buckets %d, want 3", len(f.byKey))
	}
}

func TestMaxWorkersQueues(t *testing.T) {
	// Static asks for 3 workers, the cluster holds 2: the third waits
	// until the run ends, never launched.
	w := &Workload{Name: "q", Tasks: tasks(cpu(1), time.Minute)}
	c := handCluster(1, 1, time.Second)
	c.MaxWorkers = 2
	m := run(t, w, NewStatic(StaticConfig{Workers: 3}, c), c)
	if m.PeakWorkers != 2 || m.Launches != 2 || m.Requests != 3 || m.Cancels != 1 {
		t.Errorf("peak %d, launches %d, requests %d, cancels %d; want 2, 2, 3, 1", m.PeakWorkers, m.Launches, m.Requests, m.Cancels)
	}
}

func TestRejected(t *testing.T) {
	w := &Workload{Name: "r", Tasks: tasks(cpu(1), 2*time.Second)}
	bogus := stealer.PolicyFunc(func(s stealer.Snapshot) stealer.Plan {
		return stealer.Plan{
			Cancel:  []stealer.Cancel{{ID: "nope"}},
			Drain:   []stealer.Drain{{AllocID: "primary"}},
			Acquire: []stealer.Request{{Requirements: ebb.Requirements{Width: -1}}, {}},
		}
	})
	m := run(t, w, bogus, handCluster(1, 1, time.Second))
	// Three calls (t=0, 1 s, 2 s is the end): four rejections each.
	if m.PolicyCalls != 2 || m.Rejected != 8 {
		t.Errorf("policy calls %d, rejected %d; want 2, 8", m.PolicyCalls, m.Rejected)
	}
}

func TestDrainTwice(t *testing.T) {
	// A plan that drains an idle alloc twice frees it once, rejects
	// nothing.
	w := &Workload{Name: "d", Tasks: tasks(cpu(1), 10*time.Second, 2*time.Second)}
	p := stealer.PolicyFunc(func(s stealer.Snapshot) stealer.Plan {
		var plan stealer.Plan
		for _, h := range s.Held {
			if h.Running == 0 {
				plan.Drain = append(plan.Drain, stealer.Drain{AllocID: h.ID}, stealer.Drain{AllocID: h.ID})
			}
		}
		if len(s.Demand) > 0 && len(s.Pending) == 0 {
			plan.Acquire = []stealer.Request{{Requirements: ebb.Requirements{Min: cpu(1)}}}
		}
		return plan
	})
	m := run(t, w, p, handCluster(1, 1, time.Second))
	if m.Rejected != 0 || m.Drains != 1 || m.Releases != 1 {
		t.Errorf("rejected %d, drains %d, releases %d; want 0, 1, 1", m.Rejected, m.Drains, m.Releases)
	}
}

func TestCancelBootingIsBilled(t *testing.T) {
	// Ask for a 2-cpu alloc at 0 s, cancel it at 1 s: one second of boot
	// wasted and billed (exactly).
	w := &Workload{Name: "c", Tasks: tasks(cpu(1), 10*time.Second)}
	p := stealer.PolicyFunc(func(s stealer.Snapshot) stealer.Plan {
		var plan stealer.Plan
		switch {
		case s.Now.Equal(epoch):
			plan.Acquire = []stealer.Request{{Requirements: ebb.Requirements{Min: cpu(1), Width: 2}}}
		default:
			for _, r := range s.Pending {
				plan.Cancel = append(plan.Cancel, stealer.Cancel{ID: r.ID})
			}
		}
		return plan
	})
	m := run(t, w, p, handCluster(1, 4, time.Minute))
	check(t, "boot", m.WasteBoot, 2.0/60)
	check(t, "cost", m.Cost, 2.0/60)
	if m.Cancels != 1 || m.Acquisitions != 0 {
		t.Errorf("cancels %d, acquisitions %d; want 1, 0", m.Cancels, m.Acquisitions)
	}
}

// How long a cancelled request waited is in the snapshots after it, as a
// Stealer's (Snapshot.Cancelled), and in the Memory for the next run.
func TestCancelledWaitRemembered(t *testing.T) {
	w := &Workload{Name: "c", Tasks: tasks(cpu(1), 10*time.Second)}
	var last stealer.Snapshot
	p := stealer.PolicyFunc(func(s stealer.Snapshot) stealer.Plan {
		last = s
		var plan stealer.Plan
		switch {
		case s.Now.Equal(epoch):
			plan.Acquire = []stealer.Request{{Requirements: ebb.Requirements{Min: cpu(1)}}}
		case s.Now.Equal(epoch.Add(3 * time.Second)):
			for _, r := range s.Pending {
				plan.Cancel = append(plan.Cancel, stealer.Cancel{ID: r.ID})
			}
		}
		return plan
	})
	var mem Memory
	if _, err := Run(t.Context(), Config{Workload: w, Policy: p, Cluster: handCluster(1, 4, time.Minute), Seed: 1, Memory: &mem}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(last.Cancelled, []time.Duration{3 * time.Second}) {
		t.Errorf("the last snapshot: cancelled after %v, want [3s]", last.Cancelled)
	}
	if !slices.Equal(mem.Cancelled, []time.Duration{3 * time.Second}) {
		t.Errorf("Memory: cancelled after %v, want [3s]", mem.Cancelled)
	}
}

func TestFailedLaunchesBackOff(t *testing.T) {
	// Every launch fails: nothing is billed or wasted, the run ends on
	// the primary, and requests are spaced by the backoff.
	w := &Workload{Name: "f", Tasks: tasks(cpu(1), time.Minute, time.Minute)}
	c := handCluster(1, 1, time.Second)
	c.FailProb = 0.999999999
	m := run(t, w, NewReflow(ReflowConfig{}), c)
	check(t, "makespan", m.Makespan, 120)
	check(t, "waste", m.Waste, 0)
	check(t, "cost", m.Cost, 0)
	// Backoff waits 0.8–1 s, 1.6–2, 3.2–4, … up to 1 min: about a dozen
	// launches in 60 s, each taking 1 s.
	if m.Failures < 5 || m.Failures > 12 || m.Launches != m.Failures {
		t.Errorf("failures %d, launches %d: want 5 to 12, equal", m.Failures, m.Launches)
	}
}

func TestNoShapeFailsAtOnce(t *testing.T) {
	// A request for more than any shape holds fails at once, unbilled.
	w := &Workload{Name: "n", Tasks: tasks(cpu(1), 3*time.Second)}
	p := stealer.PolicyFunc(func(s stealer.Snapshot) stealer.Plan {
		return stealer.Plan{Acquire: []stealer.Request{{Requirements: ebb.Requirements{Min: cpu(64)}}}}
	})
	m := run(t, w, p, handCluster(1, 1, time.Second))
	if m.Launches != 0 || m.Failures == 0 || m.Requests != m.Failures {
		t.Errorf("launches %d, failures %d, requests %d; want 0, >0, = failures", m.Launches, m.Failures, m.Requests)
	}
}

func TestStall(t *testing.T) {
	// A 4-cpu task only a worker holds; the primary-only policy never
	// buys one: the run stalls.
	w := &Workload{Name: "s", Tasks: []Task{{ID: "big", Duration: time.Second, Resources: cpu(4)}}}
	c := handCluster(1, 4, time.Second)
	c.StallTimeout = time.Minute
	m := run(t, w, NewStatic(StaticConfig{}, c), c)
	if m.Stalled == "" {
		t.Fatal("not stalled")
	}
	check(t, "makespan", m.Makespan, 60)
}

func TestTaskFitsNowhere(t *testing.T) {
	w := &Workload{Name: "x", Tasks: []Task{{ID: "huge", Duration: time.Second, Resources: cpu(100)}}}
	_, err := Run(context.Background(), Config{Workload: w, Policy: NewReflow(ReflowConfig{}), Cluster: handCluster(1, 4, time.Second)})
	if !errors.Is(err, ebb.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
}

func TestPolicyPanicIsAnError(t *testing.T) {
	w := &Workload{Name: "p", Tasks: tasks(cpu(1), time.Second)}
	p := stealer.PolicyFunc(func(stealer.Snapshot) stealer.Plan { panic("boom") })
	if _, err := Run(context.Background(), Config{Workload: w, Policy: p, PolicyName: "boomer"}); err == nil {
		t.Fatal("no error")
	}
}

func TestContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w, _ := Standard("burst", StdConfig{Tasks: 10})
	if _, err := Run(ctx, Config{Workload: w, Policy: NewReflow(ReflowConfig{})}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestSnapshotIsTheStealers(t *testing.T) {
	// What a policy sees: the primary in Others, held allocs working and
	// ordered by age, pending requests oldest first, demand largest
	// first, Now on the virtual clock.
	w := &Workload{Name: "v", Tasks: append(tasks(cpu(1), time.Minute, time.Minute, time.Minute),
		Task{ID: "two", Duration: time.Minute, Resources: cpu(2)})}
	var seen []stealer.Snapshot
	p := stealer.PolicyFunc(func(s stealer.Snapshot) stealer.Plan {
		c := s
		c.Held = append([]stealer.Held(nil), s.Held...)
		c.Pending = append([]stealer.Pending(nil), s.Pending...)
		seen = append(seen, c)
		if s.Now.Equal(epoch) {
			return stealer.Plan{Acquire: []stealer.Request{
				{Requirements: ebb.Requirements{Min: cpu(1)}},
				{Requirements: ebb.Requirements{Min: cpu(1), Width: 2}},
			}}
		}
		return stealer.Plan{}
	})
	c := handCluster(2, 2, 2500*time.Millisecond)
	if _, err := Run(context.Background(), Config{Workload: w, Policy: p, Cluster: c}); err != nil {
		t.Fatal(err)
	}
	s0 := seen[0]
	if len(s0.Others) != 1 || s0.Others[0].ID != "primary" || !s0.Others[0].Working || s0.Others[0].Running != 1 {
		t.Errorf("t=0: Others = %+v, want the primary running the 2-cpu task", s0.Others)
	}
	if len(s0.Demand) != 1 || s0.Demand[0].Count != 3 || !s0.Demand[0].Resources.Equal(cpu(1)) {
		t.Errorf("t=0: Demand = %v, want 3 × 1 cpu", s0.Demand)
	}
	s1 := seen[1] // t=1 s
	if !s1.Now.Equal(epoch.Add(time.Second)) || len(s1.Pending) != 2 || s1.Pending[0].ID != "r1" || s1.Pending[1].Requirements.Width != 2 {
		t.Errorf("t=1s: Now %v, Pending %+v", s1.Now, s1.Pending)
	}
	// At 2.5 s both are granted (r1 first) and given tasks at once.
	var at stealer.Snapshot
	for _, s := range seen {
		if s.Now.Equal(epoch.Add(2500 * time.Millisecond)) {
			at = s
		}
	}
	if len(at.Held) != 2 || at.Held[0].ID > at.Held[1].ID || !at.Held[0].Working || at.Held[0].Running != 1 || at.Held[1].Running != 2 {
		t.Fatalf("t=2.5s: Held = %+v", at.Held)
	}
	if h := at.Held[1]; !h.Resources.Equal(cpu(2)) || !h.Free.IsZero() || !h.Busy.Equal(cpu(2)) || !h.IdleSince.IsZero() || !h.Since.Equal(at.Now) {
		t.Errorf("t=2.5s: Held[1] = %+v", h)
	}
	if len(at.Latency) != 2 || at.Latency[0] != 2500*time.Millisecond || len(at.Recent) != 2 || at.Recent[0].Kind != stealer.Acquired || !at.Recent[0].Time.Equal(epoch) {
		t.Errorf("t=2.5s: Latency %v, Recent %+v", at.Latency, at.Recent)
	}
	if len(at.Demand) != 0 {
		t.Errorf("t=2.5s: Demand %v, want none", at.Demand)
	}
}

func TestLongTaskWaitsForThePrimary(t *testing.T) {
	// A primary of 1 cpu runs x (60 s) from 0 s; an auxiliary alloc
	// of 1 cpu, asked for at 0 s, comes at 1 s and runs g (10 s) from
	// 5 s. At 15 s "long" (an hour, behind g) is ready, its best fit
	// the idle auxiliary alloc. With every kind's duration known, it
	// would keep that alloc alive alone for an hour, and the primary's
	// slot frees in 45 s, within a 32nd of its run: it waits for it,
	// and starts on the primary at 60 s. Without, it starts at 15 s.
	w := &Workload{Name: "long", Tasks: []Task{
		{ID: "x", Kind: "x", Duration: time.Minute, Resources: cpu(1)},
		{ID: "g", Kind: "g", Duration: 10 * time.Second, Resources: cpu(1), Arrival: 5 * time.Second},
		{ID: "long", Kind: "long", Duration: time.Hour, Resources: cpu(1), Deps: []int{1}},
	}}
	p := stealer.PolicyFunc(func(s stealer.Snapshot) stealer.Plan {
		if len(s.Held)+len(s.Pending) > 0 || !s.Now.Equal(epoch) {
			return stealer.Plan{}
		}
		return stealer.Plan{Acquire: []stealer.Request{{Requirements: ebb.Requirements{Min: cpu(1)}}}}
	})
	c := handCluster(1, 1, time.Second)
	known := func() *Memory { // a run starts at its Memory's Clock: a fresh one each
		return &Memory{Durations: stealer.Profile{"x": {time.Minute}, "g": {10 * time.Second}, "long": {time.Hour}}}
	}
	for _, tc := range []struct {
		mem      *Memory
		makespan float64
	}{{known(), 3660}, {nil, 3615}} {
		r, err := Run(context.Background(), Config{Workload: w, Policy: p, Cluster: c, Seed: 1, Memory: tc.mem})
		if err != nil {
			t.Fatal(err)
		}
		check(t, "makespan", r.Metrics.Makespan, tc.makespan)
	}
	// When x runs an hour instead of its minute, "long" waits no more
	// than a 32nd of its run (112.5 s): the stealer's first tick after
	// that, at 128 s, starts it on the auxiliary alloc.
	w.Tasks[0].Duration = time.Hour
	r, err := Run(context.Background(), Config{Workload: w, Policy: p, Cluster: c, Seed: 1, Memory: known()})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "makespan", r.Metrics.Makespan, 128+3600)
}

func TestLongTaskTakesThePrimaryWhenItHasRoom(t *testing.T) {
	// A primary of 3 cpu runs g (2 cpu, 10 s) and y (2 min) from 0 s;
	// an auxiliary alloc of 2 cpu, asked for at 0 s, comes at 1 s and
	// runs w (2 min) from 2 s. At 10 s g ends: "long" (an hour) and z
	// (10 s) are ready, 2 cpu, more than the auxiliary alloc's 1 free,
	// and long's best fit is that alloc, the primary having 2 free.
	// With every kind's duration known, long starts on the primary,
	// which has room, and z on the auxiliary alloc, drained once w
	// ends (the policy drains idle allocs after the first minute): a few
	// cpu-minutes of waste, not an hour of a 2-cpu alloc.
	w := &Workload{Name: "long", Tasks: []Task{
		{ID: "g", Kind: "g", Duration: 10 * time.Second, Resources: cpu(2)},
		{ID: "y", Kind: "y", Duration: 2 * time.Minute, Resources: cpu(1)},
		{ID: "w", Kind: "y", Duration: 2 * time.Minute, Resources: cpu(1), Arrival: 2 * time.Second},
		{ID: "long", Kind: "long", Duration: time.Hour, Resources: cpu(1), Deps: []int{0}},
		{ID: "z", Kind: "z", Duration: 10 * time.Second, Resources: cpu(1), Deps: []int{0}},
	}}
	p := stealer.PolicyFunc(func(s stealer.Snapshot) stealer.Plan {
		var plan stealer.Plan
		if s.Now.Equal(epoch) && len(s.Held)+len(s.Pending) == 0 {
			plan.Acquire = []stealer.Request{{Requirements: ebb.Requirements{Min: cpu(2)}}}
		}
		for _, h := range s.Held {
			// Idle once its tasks are done.
			if h.Working && !h.Draining && h.Running == 0 && !h.IdleSince.IsZero() && s.Now.Sub(epoch) > time.Minute {
				plan.Drain = append(plan.Drain, stealer.Drain{AllocID: h.ID, Reason: "idle"})
			}
		}
		return plan
	})
	c := handCluster(3, 2, time.Second)
	r, err := Run(context.Background(), Config{Workload: w, Policy: p, Cluster: c, Seed: 1,
		Memory: &Memory{Durations: stealer.Profile{"g": {10 * time.Second}, "y": {2 * time.Minute}, "long": {time.Hour}, "z": {10 * time.Second}}}})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "makespan", r.Metrics.Makespan, 3610)
	if r.Metrics.Waste > 5 {
		t.Errorf("waste %.1f cpu-min, want under 5: long kept the auxiliary alloc alive", r.Metrics.Waste)
	}
}

func TestTaskOfTheUsualLengthTakesTheAux(t *testing.T) {
	// A primary of 1 cpu runs a (a minute) from 0 s; an auxiliary
	// alloc of 1 cpu comes at 1 s and idles. b, of a's kind, arrives at
	// 59 s, a second before the primary's slot frees: it is no longer
	// than what runs, and starts at once on the auxiliary alloc, not a
	// second later on the primary.
	w := &Workload{Name: "usual", Tasks: []Task{
		{ID: "a", Kind: "k", Duration: time.Minute, Resources: cpu(1)},
		{ID: "b", Kind: "k", Duration: time.Minute, Resources: cpu(1), Arrival: 59 * time.Second},
	}}
	p := stealer.PolicyFunc(func(s stealer.Snapshot) stealer.Plan {
		if len(s.Held)+len(s.Pending) > 0 || !s.Now.Equal(epoch) {
			return stealer.Plan{}
		}
		return stealer.Plan{Acquire: []stealer.Request{{Requirements: ebb.Requirements{Min: cpu(1)}}}}
	})
	c := handCluster(1, 1, time.Second)
	r, err := Run(context.Background(), Config{Workload: w, Policy: p, Cluster: c, Seed: 1,
		Memory: &Memory{Durations: stealer.Profile{"k": {time.Minute}}}})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "makespan", r.Metrics.Makespan, 119)
}
