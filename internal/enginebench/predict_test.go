package enginebench

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
)

func TestMixed(t *testing.T) {
	res := ebb.Resources{ebb.CPU: 1, ebb.Mem: 64 << 20}
	steps := mixed(7, res)
	if !slices.EqualFunc(steps, mixed(7, res), func(a, b step) bool { return a.name == b.name && a.dur == b.dur }) {
		t.Errorf("mixed(7) differs from itself")
	}
	if slices.EqualFunc(steps, mixed(8, res), func(a, b step) bool { return a.dur == b.dur }) {
		t.Errorf("mixed(7) and mixed(8) drew the same durations")
	}
	if len(steps) != 26 || steps[0].name != "setup" || len(steps[0].deps) != 0 || steps[25].name != "merge" || len(steps[25].deps) != 24 {
		t.Fatalf("mixed: want setup, 24 fanned out, merge after them all; got %+v", steps)
	}
	mean := map[string]time.Duration{"short": 2 * time.Second, "long": 6 * time.Second}
	count := map[string]int{}
	for _, s := range steps[1:25] {
		count[s.kind]++
		m := mean[s.kind]
		if s.dur < m*8/10 || s.dur > m*12/10 || !slices.Equal(s.deps, []int{0}) || !strings.HasPrefix(s.name, s.kind) {
			t.Errorf("fanned-out task %+v: want a %s task of %v ±20 %% after setup", s, s.kind, m)
		}
	}
	if count["short"] != 16 || count["long"] != 8 {
		t.Errorf("kinds = %v, want 16 short and 8 long", count)
	}
}

// TestMixedAgree checks that the flow run for real and the simulated
// workload are one workload: same tasks, durations, deps, kinds and
// resources.
func TestMixedAgree(t *testing.T) {
	steps := mixed(1, ebb.Resources{ebb.CPU: 1, ebb.Mem: 64 << 20})
	flow, err := mixedFlow(steps, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := flow.Validate(); err != nil {
		t.Fatal(err)
	}
	w := mixedWorkload(steps)
	if err := w.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(flow.Tasks) != len(steps) || len(w.Tasks) != len(steps) {
		t.Fatalf("%d steps, %d flow tasks, %d simulated tasks", len(steps), len(flow.Tasks), len(w.Tasks))
	}
	for i, ft := range flow.Tasks {
		st := w.Tasks[i]
		var deps []string
		for _, d := range st.Deps {
			deps = append(deps, w.Tasks[d].ID)
		}
		sleep := fmt.Sprintf("sleep %.3f;", st.Duration.Seconds())
		if ft.Name != st.ID || ft.Kind != st.Kind || !slices.Equal(ft.After, deps) ||
			!ft.Resources.Equal(st.Resources) || !strings.Contains(ft.Argv[2], sleep) || st.Arrival != 0 {
			t.Errorf("task %d: flow %s kind %s after %v holds %v runs %q; simulated %s kind %s after %v holds %v for %v",
				i, ft.Name, ft.Kind, ft.After, ft.Resources, ft.Argv, st.ID, st.Kind, deps, st.Resources, st.Duration)
		}
	}
}
