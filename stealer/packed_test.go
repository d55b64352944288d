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
	}{
		// The work alone, 8.5 cpu-min, takes 4m15s on 2 cpus, past
		// the longest chain's end: that is the figure, the schedule
		// (4m30s: the six maps in three rounds after the split, the
		// merge 30 s after them) being spared.
		{"two cpus", 2, 1, 4*time.Minute + 15*time.Second},
		// Four maps at a time, then two: the merge waits for those
		// two, though cpus are free beside them.
		{"four cpus", 4, 1, 3*time.Minute + 30*time.Second},
		// All six maps at once: the longest chain sets the end.
		{"eight cpus", 8, 1, 2*time.Minute + 30*time.Second},
		// Room for every task at once (nine cpus): the same.
		{"every task at once", 9, 1, 2*time.Minute + 30*time.Second},
		// A merge that needs more than is held is left out: 8 cpu-min
		// on 2 cpus.
		{"a task wider than what is held", 2, 4, 4 * time.Minute},
		// The same on 4 cpus, scheduled: the maps in two rounds after
		// the split, and the merge left out.
		{"a task wider than what is held, scheduled", 4, 5, 3 * time.Minute},
		{"nothing held", 0, 1, 0},
	} {
		got := d.Critical(fanWave(tc.cpus, tc.mergeCPU))
		if got.Packed != tc.want {
			t.Errorf("%s: Packed = %v, want %v", tc.name, got.Packed, tc.want)
		}
		if want := 2*time.Minute + 30*time.Second; got.End != want {
			t.Errorf("%s: End = %v, want %v", tc.name, got.End, want)
		}
	}
}
