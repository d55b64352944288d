package stealer

import (
	"slices"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
)

// A split runs (task 0, a minute left); six maps (1–6) wait on it, and
// a merge (7) on all six; a side task (8) is ready and heads nothing.
// Every task needs a cpu, the merge mergeCPU of them.
func fanWave(cpu, mergeCPU float64) Wave {
	kind := func(t int32) int {
		switch {
		case t == 0:
			return 0
		case t <= 6:
			return 1
		case t == 7:
			return 2
		}
		return 3
	}
	return Wave{
		Kinds: []KindWork{{Kind: "split", Running: []time.Duration{time.Minute}}, {Kind: "map"}, {Kind: "merge"}, {Kind: "side"}},
		Tasks: [][]int32{{0}},
		Kind:  kind,
		Dependents: func(t int32) []int32 {
			switch {
			case t == 0:
				return []int32{1, 2, 3, 4, 5, 6}
			case t <= 6:
				return []int32{7}
			}
			return nil
		},
		Waiting: func(t int32) int {
			if t == 7 {
				return 6
			}
			return 1
		},
		Resources: func(t int32) ebb.Resources {
			if t == 7 {
				return cpus(mergeCPU)
			}
			return cpus(1)
		},
		Ready:  slices.Values([]int32{8}),
		Ranked: true,
		Cpus:   cpu,
	}
}

// Critical.Packed list-schedules the work left on the cpus held: the
// maps start when the split ends, as many at once as there are cpus, and
// the merge when the last of them ends.
func TestCriticalPacked(t *testing.T) {
	var d Durations
	d.Observe("split", 2*time.Minute)
	d.Observe("map", time.Minute)
	d.Observe("merge", 30*time.Second)
	d.Observe("side", time.Minute)
	for _, tc := range []struct {
		name           string
		cpus, mergeCPU float64
		want           time.Duration
		// wantCpus: the fewest cpus on which the schedule ends with
		// the longest chain, in 2m30s: all six maps at once.
		wantCpus float64
	}{
		// The work alone, 8.5 cpu-min, takes 4m15s on 2 cpus, past
		// the longest chain's end: that is the figure, the schedule
		// (4m30s: the six maps in three rounds after the split, the
		// merge 30 s after them) being spared.
		{"two cpus", 2, 1, 4*time.Minute + 15*time.Second, 6},
		// Four maps at a time, then two: the merge waits for those
		// two, though cpus are free beside them.
		{"four cpus", 4, 1, 3*time.Minute + 30*time.Second, 6},
		// All six maps at once: the longest chain sets the end.
		{"eight cpus", 8, 1, 2*time.Minute + 30*time.Second, 0},
		// Room for every task at once (nine cpus): the same.
		{"every task at once", 9, 1, 2*time.Minute + 30*time.Second, 0},
		// A merge that needs more than is held is left out: 8 cpu-min
		// on 2 cpus. On 6, it runs after the maps.
		{"a task wider than what is held", 2, 4, 4 * time.Minute, 6},
		// The same on 4 cpus, scheduled: the maps in two rounds after
		// the split, and the merge left out.
		{"a task wider than what is held, scheduled", 4, 5, 3 * time.Minute, 6},
		{"nothing held", 0, 1, 0, 0},
	} {
		got := d.Critical(fanWave(tc.cpus, tc.mergeCPU))
		if got.Packed != tc.want {
			t.Errorf("%s: Packed = %v, want %v", tc.name, got.Packed, tc.want)
		}
		if got.Cpus != tc.wantCpus {
			t.Errorf("%s: Cpus = %v, want %v", tc.name, got.Cpus, tc.wantCpus)
		}
		if want := 2*time.Minute + 30*time.Second; got.End != want {
			t.Errorf("%s: End = %v, want %v", tc.name, got.End, want)
		}
	}
	// The cpus the flow can use are told only of a flow whose kinds'
	// durations are all known, and whose tasks are all there.
	unranked, arriving := fanWave(2, 1), fanWave(2, 1)
	unranked.Ranked = false
	arriving.Arriving = true
	for name, w := range map[string]Wave{"not ranked": unranked, "arriving": arriving} {
		if got := d.Critical(w).Cpus; got != 0 {
			t.Errorf("%s: Cpus = %v, want 0", name, got)
		}
	}
}

// A schedule and a chain that sum the same durations in another order
// differ in their last bits ((0.1+0.2)+0.3 is not 0.1+(0.2+0.3)): the
// schedule on six cpus still ends with the chain, and six is what the
// flow can use, not every cpu its tasks would take at once.
func TestCriticalCpusAbsorbsRounding(t *testing.T) {
	var d Durations
	d.Observe("split", 200*time.Millisecond)
	d.Observe("map", 200*time.Millisecond)
	d.Observe("merge", 300*time.Millisecond)
	d.Observe("side", 100*time.Millisecond)
	w := fanWave(2, 1)
	w.Kinds[0].Running = []time.Duration{100 * time.Millisecond}
	got := d.Critical(w)
	if got.End != 600*time.Millisecond || got.Cpus != 6 {
		t.Errorf("Critical: End %v, Cpus %v; want 600ms, 6", got.End, got.Cpus)
	}
	w.Cpus = 6
	if got := d.Critical(w); got.Packed != got.End || got.Cpus != 0 {
		t.Errorf("Critical on 6 cpus: Packed %v, End %v, Cpus %v; want Packed = End, and Cpus 0", got.Packed, got.End, got.Cpus)
	}
}

// BenchmarkCriticalCpus walks a wide flow at the budget of Cpus: a
// split runs, 4,094 maps of four kinds wait on it and a merge on them,
// on 8 cpus. Packed is past the longest chain, so Critical also seeks the
// cpus the flow can use (Cpus), a list schedule for each count tried.
func BenchmarkCriticalCpus(b *testing.B) {
	const maps = cpusBudget - 2
	var d Durations
	d.Observe("split", 2*time.Minute)
	kinds := []KindWork{{Kind: "split", Running: []time.Duration{time.Minute}}}
	for i, took := range []time.Duration{10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute} {
		k := "map" + string(rune('a'+i))
		d.Observe(k, took)
		kinds = append(kinds, KindWork{Kind: k})
	}
	d.Observe("merge", time.Minute)
	kinds = append(kinds, KindWork{Kind: "merge"})
	deps := make([]int32, maps)
	for i := range deps {
		deps[i] = int32(i + 1)
	}
	merge := []int32{maps + 1}
	w := Wave{
		Kinds: kinds,
		Tasks: [][]int32{{0}},
		Kind: func(t int32) int {
			switch {
			case t == 0:
				return 0
			case t <= maps:
				return 1 + int(t)%4
			}
			return 5
		},
		Dependents: func(t int32) []int32 {
			switch {
			case t == 0:
				return deps
			case t <= maps:
				return merge
			}
			return nil
		},
		Waiting: func(t int32) int {
			if t == maps+1 {
				return maps
			}
			return 1
		},
		Resources: func(int32) ebb.Resources { return cpus(1) },
		Ranked:    true,
		Cpus:      8,
	}
	var c Critical
	for b.Loop() {
		c = d.Critical(w)
	}
	if c.Cpus <= w.Cpus {
		b.Fatalf("Cpus = %v, want more than the %v held", c.Cpus, w.Cpus)
	}
	b.ReportMetric(c.Cpus, "cpus")
}
