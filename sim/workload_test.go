package sim

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

func TestValidate(t *testing.T) {
	ok := func() *Workload {
		return &Workload{Name: "w", Tasks: []Task{
			{ID: "a", Duration: time.Second, Resources: cpu(1)},
			{ID: "b", Duration: time.Second, Resources: cpu(1), Deps: []int{0}},
		}}
	}
	if err := ok().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
		mod        func(w *Workload)
	}{
		{"empty id", `task "" (#0): id`, func(w *Workload) { w.Tasks[0].ID = "" }},
		{"duplicate id", `task "a" (#1): id: also task #0`, func(w *Workload) { w.Tasks[1].ID = "a" }},
		{"negative duration", "duration", func(w *Workload) { w.Tasks[0].Duration = -1 }},
		{"negative arrival", "arrival", func(w *Workload) { w.Tasks[1].Arrival = -1 }},
		{"no resources", "needs nothing", func(w *Workload) { w.Tasks[0].Resources = nil }},
		{"bad resources", "resources", func(w *Workload) { w.Tasks[0].Resources = ebb.Resources{"cpu": -1} }},
		{"dep out of range", "index 7 out of range", func(w *Workload) { w.Tasks[1].Deps = []int{7} }},
		{"self dep", "depends on itself", func(w *Workload) { w.Tasks[0].Deps = []int{0} }},
		{"cycle", "part of a cycle", func(w *Workload) { w.Tasks[0].Deps = []int{1} }},
	} {
		w := ok()
		tc.mod(w)
		err := w.Validate()
		if !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want ErrInvalid naming %q", tc.name, err, tc.want)
		}
	}
}

func TestReplay(t *testing.T) {
	w := &Workload{Name: "w", Tasks: []Task{
		{ID: "a", Arrival: 10 * time.Second, Duration: time.Second, Resources: cpu(1)},
		{ID: "b", Arrival: 30 * time.Second, Duration: 100 * time.Second, Resources: cpu(1), Deps: []int{0}},
	}, Defaulted: Defaulted{Cores: 1}}
	r := Replay(w, 3, time.Minute)
	if r.Name != "w×3" || len(r.Tasks) != 6 || r.Defaulted.Cores != 3 || r.RunGap != time.Minute {
		t.Fatalf("replay: name %q, %d tasks, defaulted %+v, gap %v", r.Name, len(r.Tasks), r.Defaulted, r.RunGap)
	}
	var arr []time.Duration
	var runs []int
	for _, t := range r.Tasks {
		arr = append(arr, t.Arrival)
		runs = append(runs, t.Run)
	}
	want := []time.Duration{10, 30, 10, 30, 10, 30}
	for i := range want {
		want[i] *= time.Second
	}
	if !reflect.DeepEqual(arr, want) || !reflect.DeepEqual(runs, []int{0, 0, 1, 1, 2, 2}) {
		t.Errorf("arrivals %v runs %v, want %v and runs 0 0 1 1 2 2", arr, runs, want)
	}
	if r.Tasks[5].ID != "2/b" || !reflect.DeepEqual(r.Tasks[5].Deps, []int{4}) {
		t.Errorf("task 5: %+v", r.Tasks[5])
	}
	if err := r.Validate(); err != nil {
		t.Error(err)
	}
	if one := Replay(w, 1, time.Hour); one.Name != "w" || !reflect.DeepEqual(one.Tasks, w.Tasks) {
		t.Errorf("Replay(w, 1) = %+v, want a copy of w", one)
	}
	// Each run starts a minute after the one before has ended: run 0
	// ends at 130 s (b: 30 s + 100 s), run 1 starts at 190 s and ends at
	// 320 s, run 2 starts at 380 s and ends at 510 s; the lower bound
	// adds up the same way.
	res, err := Run(t.Context(), Config{Workload: r, Policy: stealer.PolicyFunc(func(stealer.Snapshot) stealer.Plan { return stealer.Plan{} })})
	if err != nil {
		t.Fatal(err)
	}
	if res.Metrics.Makespan != 510 || res.Metrics.LowerBound != 510 {
		t.Errorf("makespan %v, lower bound %v; want 510 and 510", res.Metrics.Makespan, res.Metrics.LowerBound)
	}
	// A dependency across runs is refused.
	bad := Replay(w, 2, 0)
	bad.Tasks[3].Deps = []int{0}
	if err := bad.Validate(); !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), "deps: task #0 is of run 0, not of run 1") {
		t.Errorf("dependency across runs: %v", err)
	}
}

func TestStandard(t *testing.T) {
	for _, n := range StandardNames() {
		a, err := Standard(n, StdConfig{Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Standard(n, StdConfig{Seed: 3})
		c, _ := Standard(n, StdConfig{Seed: 4})
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: same seed, different workloads", n)
		}
		if reflect.DeepEqual(a.Tasks, c.Tasks) {
			t.Errorf("%s: different seeds, same workload", n)
		}
		if err := a.Validate(); err != nil {
			t.Errorf("%s: %v", n, err)
		}
		if len(a.Tasks) < 900 {
			t.Errorf("%s: %d tasks", n, len(a.Tasks))
		}
		if s, _ := Standard(n, StdConfig{Tasks: 50, Seed: 3}); len(s.Tasks) < 40 || len(s.Tasks) > 60 {
			t.Errorf("%s with 50 tasks: %d", n, len(s.Tasks))
		}
	}
	if _, err := Standard("nope", StdConfig{}); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("unknown workload: err = %v", err)
	}
	// The shapes of the standard workloads.
	h, _ := Standard("heavytail", StdConfig{Seed: 1})
	var long int
	for _, t := range h.Tasks {
		if t.Duration > 10*time.Minute {
			long++
		}
	}
	if long != 10 {
		t.Errorf("heavytail: %d long tasks of 1000, want 10", long)
	}
	mixedShape(t)
	tr, _ := Standard("trickle", StdConfig{Seed: 1, PrimaryCPU: 8})
	load := tr.Work() / tr.Span().Seconds()
	if load < 8*1.0 || load > 8*1.2 {
		t.Errorf("trickle: load %.2f cpu on a primary of 8, want about 8.8", load)
	}
}

func TestLowerBound(t *testing.T) {
	c := Cluster{Primary: cpu(2), Shapes: []ebb.Resources{cpu(4)}, MaxWorkers: 2, Boot: Dist{Kind: Fixed, A: 10 * time.Second}}
	for _, tc := range []struct {
		name string
		w    *Workload
		want Bound
	}{
		{
			// A chain a → b → c of 10 s: the critical path; T* =
			// (30 + 8·10) / (2 + 8) = 11 s.
			"chain",
			&Workload{Name: "chain", Tasks: []Task{
				{ID: "a", Duration: 10 * time.Second, Resources: cpu(1)},
				{ID: "b", Duration: 10 * time.Second, Resources: cpu(1), Deps: []int{0}},
				{ID: "c", Duration: 10 * time.Second, Resources: cpu(1), Deps: []int{1}},
			}},
			Bound{CriticalPath: 30 * time.Second, Area: 11 * time.Second, Arrivals: 3 * time.Second, LB: 30 * time.Second},
		},
		{
			// 100 tasks of 10 s: W = 1000 cpu-s, P = 2, A = 8, L = 10:
			// T* = (1000 + 80) / 10 = 108 s.
			"burst",
			&Workload{Name: "burst", Tasks: tasks(cpu(1), durations(100, 10*time.Second)...)},
			Bound{CriticalPath: 10 * time.Second, Area: 108 * time.Second, Arrivals: 100 * time.Second, LB: 108 * time.Second},
		},
		{
			// 10 tasks of 10 s arriving at 1000 s: at least 1000 + 100/10.
			"late",
			func() *Workload {
				w := &Workload{Name: "late", Tasks: tasks(cpu(1), durations(10, 10*time.Second)...)}
				for i := range w.Tasks {
					w.Tasks[i].Arrival = 1000 * time.Second
				}
				return w
			}(),
			Bound{CriticalPath: 1010 * time.Second, Area: 18 * time.Second, Arrivals: 1010 * time.Second, LB: 1010 * time.Second},
		},
	} {
		if got := LowerBound(tc.w, c); got != tc.want {
			t.Errorf("%s: LowerBound = %+v, want %+v", tc.name, got, tc.want)
		}
	}
	// Arrivals spread out: the late ones set the bound.
	w := &Workload{Name: "spread", Tasks: tasks(cpu(1), durations(3, 100*time.Second)...)}
	w.Tasks[2].Arrival = 500 * time.Second
	if got := LowerBound(w, c); got.Arrivals != 510*time.Second || got.LB != 600*time.Second {
		t.Errorf("spread: %+v, want arrivals 510s, LB 600s (critical path)", got)
	}
}

func durations(n int, d time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

// mixed: setup tasks fan out to three kinds of long tasks, whose median
// durations are about 30 s, 5 min and 20 min, which fan in to merges
// and a last report.
func mixedShape(t *testing.T) {
	w, _ := Standard("mixed", StdConfig{Seed: 1})
	byKind := map[string][]time.Duration{}
	for i, task := range w.Tasks {
		byKind[task.Kind] = append(byKind[task.Kind], task.Duration)
		switch task.Kind {
		case "setup":
			if len(task.Deps) != 0 {
				t.Errorf("mixed: setup task %d has deps %v", i, task.Deps)
			}
		case "short", "medium", "long":
			if len(task.Deps) != 1 || w.Tasks[task.Deps[0]].Kind != "setup" {
				t.Errorf("mixed: %s task %d depends on %v, want one setup", task.Kind, i, task.Deps)
			}
		case "merge":
			if len(task.Deps) < 10 {
				t.Errorf("mixed: merge %d waits for %d tasks", i, len(task.Deps))
			}
		case "report":
			if i != len(w.Tasks)-1 || len(task.Deps) != len(byKind["merge"]) {
				t.Errorf("mixed: report %d waits for %d tasks, want the %d merges", i, len(task.Deps), len(byKind["merge"]))
			}
		default:
			t.Errorf("mixed: task %d of kind %q", i, task.Kind)
		}
	}
	for kind, want := range map[string]time.Duration{"short": 30 * time.Second, "medium": 5 * time.Minute, "long": 20 * time.Minute} {
		ds := byKind[kind]
		slices.Sort(ds)
		if len(ds) < 50 {
			t.Errorf("mixed: %d %s tasks", len(ds), kind)
			continue
		}
		if m := ds[len(ds)/2]; m < want*8/10 || m > want*12/10 {
			t.Errorf("mixed: median %s task %v, want about %v", kind, m, want)
		}
	}
}
