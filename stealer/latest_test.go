package stealer

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
)

func TestExpectedLatest(t *testing.T) {
	coin := []mass{{At: 0, P: 0.5}, {At: 10, P: 0.5}}
	for _, tc := range []struct {
		name string
		ends [][]mass
		want float64
	}{
		{"none", nil, 0},
		{"sure ends", [][]mass{{{At: 3, P: 1}}, {{At: 7, P: 1}}}, 7},
		{"one coin", [][]mass{coin}, 5},
		// Both end at 0 a quarter of the time.
		{"two coins", [][]mass{coin, coin}, 7.5},
		{"a coin and a sure end", [][]mass{coin, {{At: 4, P: 1}}}, 7},
	} {
		if got := expectedLatest(tc.ends); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: expectedLatest = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// Ten tasks of a kind whose durations spread from 400 s to 900 s run,
// each just begun: each is expected to take their mean, 650 s, but the
// last of them to end near 900 s, and the flow's longest running chain
// with it.
func TestCriticalEndsWithTheLatestOfParallelTasks(t *testing.T) {
	var d Durations
	for i := range 6 {
		d.Observe("dump", time.Duration(400+100*i)*time.Second)
	}
	var running []int32
	var ages []time.Duration
	for i := range 10 {
		running = append(running, int32(i))
		ages = append(ages, 0)
	}
	w := Wave{
		Kinds:      []KindWork{{Kind: "dump", Running: ages}},
		Tasks:      [][]int32{running},
		Kind:       func(int32) int { return 0 },
		Dependents: func(int32) []int32 { return nil },
		Waiting:    func(int32) int { return 1 },
		Resources:  func(int32) ebb.Resources { return cpus(1) },
		Ready:      slices.Values([]int32(nil)),
	}
	// Each is expected to take the kind's mean (under 700 s), but the
	// chance that all ten are done by 800 s is about (5/6)^10 ≈ 0.16.
	if mean := d.Remaining("dump", 0, ages, 0); mean > 700*time.Second {
		t.Fatalf("Remaining of a dump just begun = %v, want the mean, under 700 s", mean)
	}
	if got := d.Critical(w).End; got < 850*time.Second || got > 900*time.Second {
		t.Errorf("Critical.End of ten dumps just begun = %v, want 850–900 s, near the longest", got)
	}
}

// insertLatest keeps the chains that end last, latest first, the
// earliest seen first among equals.
func TestInsertLatest(t *testing.T) {
	top := make([]chainEnd, 0, 3)
	for i, end := range []float64{1, 5, 3, 5, 2, 7} {
		top = insertLatest(top, chainEnd{i: i, in: end})
	}
	want := []chainEnd{{i: 5, in: 7}, {i: 1, in: 5}, {i: 3, in: 5}}
	if !slices.Equal(top, want) {
		t.Errorf("insertLatest kept %+v, want %+v", top, want)
	}
}
