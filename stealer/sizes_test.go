package stealer

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
)

func TestSizeOf(t *testing.T) {
	var d Durations
	if _, ok := d.SizeOf("align", time.Minute); ok {
		t.Errorf("SizeOf a kind never seen: known, want not")
	}
	d.Observe("align", 10*time.Minute)
	for _, c := range []struct {
		took time.Duration
		want float64
	}{
		{10 * time.Minute, 1},
		{25 * time.Minute, 2.5},
		{5 * time.Minute, 0.5},
		{10 * time.Hour, maxSize},    // a stalled run says no more than 8×
		{time.Second, 1.0 / maxSize}, // nor a run in no time less than an 8th
	} {
		if got, ok := d.SizeOf("align", c.took); !ok || got != c.want {
			t.Errorf("SizeOf(align, %v) = %v, %v; want %v", c.took, got, ok, c.want)
		}
	}
}

func TestSizesValidate(t *testing.T) {
	if err := (Sizes{"a": 1, "b": 0.125, "c": 8}).Validate(); err != nil {
		t.Errorf("Validate of sizes within bounds: %v", err)
	}
	for _, v := range []float64{0, -1, 0.1, 9, math.NaN(), math.Inf(1)} {
		if err := (Sizes{"align-1": v}).Validate(); err == nil {
			t.Errorf("Validate of a size of %v: no error", v)
		}
	}
}

// A run's sizes from the run before count to the prior's slope until
// the run has seen what its tasks take; a task of known size teaches its
// kind what it took over its size. What a run hands on: the sizes of the
// tasks that ran in it, against their kind's estimate as it ends; those
// it started from for its tasks that did not run (cached); nothing of
// tasks no longer in the flow.
func TestTaskSizes(t *testing.T) {
	names := []string{"a", "b", "c", "d"}
	name := func(i int) string { return names[i] }
	kind := func(int) string { return "k" }
	from := Sizes{"a": 4, "c": 0.25, "gone": 3}
	s := NewTaskSizes(len(names), name, from, SizeFit{})
	for i, want := range []float64{2, 1, 0.5, 1} { // 4^0.5, 0.25^0.5
		got, known := s.Size(int32(i))
		if got != want || known != (want != 1) {
			t.Errorf("Size(%s) = %v, %v; want %v, %v", names[i], got, known, want, want != 1)
		}
	}
	if !s.Sure() {
		t.Errorf("Sure at the prior's slope: false, want true")
	}
	var d Durations
	d.Observe("k", 10*time.Minute)
	// a was expected to take twice its kind's 10 min, and b, of no
	// known size, its kind's 10 min.
	if exp, first := s.Learn(&d, 0, "k", 5*time.Minute, 0); exp != 20*time.Minute || first {
		t.Errorf("Learn(a) = %v, %v; want 20m, false", exp, first)
	}
	d = Durations{}
	d.Observe("k", 10*time.Minute)
	if exp, _ := s.Learn(&d, 1, "k", 20*time.Minute, 0); exp != 10*time.Minute {
		t.Errorf("Learn(b) = %v, want 10m", exp)
	}
	// What a task of size 2 took teaches its kind half of it.
	d = Durations{}
	s2 := NewTaskSizes(len(names), name, from, SizeFit{})
	s2.Learn(&d, 0, "k", 20*time.Minute, 0)
	if est, _ := d.Estimate("k", nil, 0); est != 10*time.Minute {
		t.Errorf("a task of size 2 that took 20m: its kind's Estimate = %v, want 10m", est)
	}
	// a and b ran 5 and 20 min: half and twice their kind's estimate
	// of 10 min as the run ends.
	d = Durations{}
	d.Observe("k", 10*time.Minute)
	got := s.Sizes(&d, name, kind, from)
	if want := (Sizes{"a": 0.5, "b": 2, "c": 0.25}); !maps.Equal(got, want) {
		t.Errorf("Sizes = %v, want %v", got, want)
	}

	var zero TaskSizes
	if v, known := zero.Size(3); v != 1 || known || zero.Sure() {
		t.Errorf("the zero TaskSizes: Size = %v, %v, Sure %v; want 1, false, false", v, known, zero.Sure())
	}
}

// How much of the sizes shows in the run: all of them when each task
// takes its size times its kind's mean, whatever that mean; none when
// what the tasks take has nothing to do with their sizes.
func TestTaskSizesSlope(t *testing.T) {
	const n = 64
	name := func(i int) string { return fmt.Sprint(i) }
	from := Sizes{}
	for i := range n {
		from[name(i)] = math.Pow(2, float64(i%5-2)) // 1/4 to 4
	}
	for _, c := range []struct {
		name   string
		took   func(i int) time.Duration
		lo, hi float64
	}{
		{"as sized", func(i int) time.Duration { return time.Duration(from[name(i)] * float64(time.Minute)) }, 0.95, 1},
		{"as sized, kinds of other means", func(i int) time.Duration {
			return time.Duration(from[name(i)] * float64(time.Minute) * float64(1+i%2*9))
		}, 0.95, 1},
		{"unrelated", func(i int) time.Duration { return time.Duration(1+i%3) * time.Minute }, 0, 0.1},
	} {
		s := NewTaskSizes(n, name, from, SizeFit{})
		var d Durations
		for i := range n {
			s.Learn(&d, int32(i), fmt.Sprint("k", i%2), c.took(i), 0)
		}
		got, _ := s.Size(4) // of size 4
		slope := math.Log(got) / math.Log(4)
		if slope < c.lo-1e-6 || slope > c.hi+1e-6 {
			t.Errorf("%s: the slope of the sizes is %.3f, want within [%v, %v]", c.name, slope, c.lo, c.hi)
		}
		if sure := slope >= sureSlope; s.Sure() != sure {
			t.Errorf("%s: Sure = %v at slope %.3f", c.name, s.Sure(), slope)
		}
	}
}

// A run of many tasks hands on the sizes of maxSizes of them, in the
// flow's order.
func TestTaskSizesBounded(t *testing.T) {
	n := maxSizes + 10
	name := func(i int) string { return fmt.Sprint(i) }
	s := NewTaskSizes(n, name, nil, SizeFit{})
	for i := range n {
		s.Learn(&Durations{}, int32(i), "k", time.Minute, 0)
	}
	var d Durations
	d.Observe("k", time.Minute)
	got := s.Sizes(&d, name, func(int) string { return "k" }, nil)
	if _, last := got[name(maxSizes-1)]; len(got) != maxSizes || !last {
		t.Errorf("Sizes of %d tasks: %d kept (task %d among them: %v), want the first %d", n, len(got), maxSizes-1, last, maxSizes)
	}
}

// A task's size scales its kind's estimate wherever Critical weighs it:
// behind a running task, ready, and running.
func TestCriticalFollowsTaskSizes(t *testing.T) {
	d := criticalDurations()
	sized := func(sizes map[int32]float64) Wave {
		w := criticalWave(2*time.Minute, 30*time.Second)
		w.Size = func(t int32) (float64, bool) {
			if v, ok := sizes[t]; ok {
				return v, true
			}
			return 1, false
		}
		w.SizesSure = true
		return w
	}
	for _, c := range []struct {
		name   string
		sizes  map[int32]float64
		end    time.Duration
		chains []Chain
	}{{
		// As in TestCritical.
		name: "none known", end: 13*time.Minute + 30*time.Second,
		chains: []Chain{{In: 0, Length: 2*time.Minute + 30*time.Second}, {In: 3 * time.Minute, Length: 10*time.Minute + 30*time.Second}},
	}, {
		// The 10-minute step behind the long task ran twice as long.
		name: "behind a running task", sizes: map[int32]float64{2: 2}, end: 23*time.Minute + 30*time.Second,
		chains: []Chain{{In: 0, Length: 2*time.Minute + 30*time.Second}, {In: 3 * time.Minute, Length: 20*time.Minute + 30*time.Second}},
	}, {
		// The ready task ran four times its kind's minute.
		name: "ready", sizes: map[int32]float64{6: 4}, end: 13*time.Minute + 30*time.Second,
		chains: []Chain{{In: 0, Length: 5*time.Minute + 30*time.Second}, {In: 3 * time.Minute, Length: 10*time.Minute + 30*time.Second}},
	}, {
		// The long task, of a kind of 5 min, ran half of it: of its
		// 2.5 min it has run 1 (the wave's 2 min are over its size),
		// and it ends in 1.5 min, surely, not by its kind's spread.
		name: "running", sizes: map[int32]float64{0: 0.5}, end: 12 * time.Minute,
		chains: []Chain{{In: 0, Length: 2*time.Minute + 30*time.Second}, {In: 90 * time.Second, Length: 10*time.Minute + 30*time.Second}},
	}} {
		got := d.Critical(sized(c.sizes))
		if got.End != c.end || !slices.Equal(got.Chains, c.chains) {
			t.Errorf("%s: Critical = End %v, Chains %v; want %v, %v", c.name, got.End, got.Chains, c.end, c.chains)
		}
	}
}

// Ready work's mean and the running tasks' remaining time follow the
// tasks' sizes.
func TestMeanAndRunningLeftFollowSizes(t *testing.T) {
	var d Durations
	d.Observe("k", 10*time.Minute)
	// Three ready tasks whose sizes sum to 6: 20 min each on average.
	if got, _ := d.Mean([]KindWork{{Kind: "k", Count: 3, Units: 6}}); got != 20*time.Minute {
		t.Errorf("Mean of 3 tasks of sizes summing to 6 = %v, want 20m", got)
	}
	if got, _ := d.Mean([]KindWork{{Kind: "k", Count: 3}}); got != 10*time.Minute {
		t.Errorf("Mean of 3 tasks of no known size = %v, want 10m", got)
	}
	// Two running tasks, 4 min into their kind's 10 over their sizes:
	// one of size 2 has 12 min left, one of size 1 has 6.
	if got := d.RunningLeft([]KindWork{{Kind: "k", Running: []time.Duration{4 * time.Minute, 4 * time.Minute}, Sizes: []float64{2, 1}}}); got != 9*time.Minute {
		t.Errorf("RunningLeft = %v, want 9m", got)
	}
	s := NewTaskSizes(2, func(i int) string { return fmt.Sprint(i) }, Sizes{"0": 4}, SizeFit{}) // 2, at the prior's slope
	if got := s.Age(0, 8*time.Minute); got != 4*time.Minute {
		t.Errorf("Age of a task of size 2 that ran 8m = %v, want 4m", got)
	}
	if got := s.Remaining(&d, 0, "k", 8*time.Minute, 0); got != 12*time.Minute {
		t.Errorf("Remaining of a task of size 2 that ran 8m of its kind's 10 = %v, want 12m", got)
	}
	if got := s.Remaining(&d, 1, "k", 8*time.Minute, 0); got != 2*time.Minute {
		t.Errorf("Remaining of a task of no known size that ran 8m of its kind's 10 = %v, want 2m", got)
	}
}

// What waits on a running task of known size is due when its size says.
func TestNextWaveFollowsTaskSizes(t *testing.T) {
	var d Durations
	d.Observe("split", 5*time.Minute)
	d.Observe("step", 10*time.Minute)
	// A split (0) runs, 2 min (over its size) into its kind's 5; three
	// steps (1, 2, 3) wait on it: one takes its slot, two need more.
	due := func(sizes map[int32]float64) time.Duration {
		w := Wave{
			Kinds:      []KindWork{{Kind: "split", Running: []time.Duration{2 * time.Minute}}, {Kind: "step"}},
			Tasks:      [][]int32{{0}, nil},
			Kind:       func(t int32) int { return min(int(t), 1) },
			Dependents: func(t int32) []int32 { return map[int32][]int32{0: {1, 2, 3}}[t] },
			Waiting:    func(int32) int { return 1 },
			Resources:  func(int32) ebb.Resources { return cpus(1) },
			Size: func(t int32) (float64, bool) {
				v, ok := sizes[t]
				if !ok {
					return 1, false
				}
				return v, true
			},
		}
		up := d.NextWave(w)
		if len(up) != 1 || up[0].Count != 2 || up[0].Untimed {
			t.Fatalf("sizes %v: NextWave = %+v, want 2 steps, timed", sizes, up)
		}
		return up[0].In
	}
	if got := due(nil); got != 3*time.Minute {
		t.Errorf("no size known: the steps are due in %v, want 3m", got)
	}
	if got := due(map[int32]float64{0: 0.5}); got != 90*time.Second {
		t.Errorf("the split of size 0.5: the steps are due in %v, want 1m30s", got)
	}
	if got := due(map[int32]float64{0: 2}); got != 6*time.Minute {
		t.Errorf("the split of size 2: the steps are due in %v, want 6m", got)
	}
}

// What a run saw of its sizes, the next run starts from: sizes that
// showed in full count nearly in full from the next run's first task,
// and a fit weighs at most maxFitWeight.
func TestSizeFitCarriesOver(t *testing.T) {
	const n = 64
	name := func(i int) string { return fmt.Sprint(i) }
	from := Sizes{}
	for i := range n {
		from[name(i)] = math.Pow(2, float64(i%5-2))
	}
	s := NewTaskSizes(n, name, from, SizeFit{})
	var d Durations
	for i := range n {
		s.Learn(&d, int32(i), "k", time.Duration(from[name(i)]*float64(time.Minute)), 0)
	}
	fit := s.Fit()
	if fit.XX != maxFitWeight || math.Abs(fit.XY-fit.XX) > 1e-9 {
		t.Errorf("Fit = %+v, want xy = xx = %v", fit, maxFitWeight)
	}
	next := NewTaskSizes(n, name, from, fit)
	got, _ := next.Size(4) // of size 4
	if slope := math.Log(got) / math.Log(4); slope < 0.94 {
		t.Errorf("the next run's first slope: %.3f, want what the run before saw (1), drawn a ninth towards %v", slope, priorSlope)
	}
	if f := next.Fit(); f != fit {
		t.Errorf("a run that saw nothing hands on %+v, want what it started from, %+v", f, fit)
	}
	for _, bad := range []SizeFit{{XY: math.NaN()}, {XX: -1}, {XY: math.Inf(1)}} {
		if bad.Validate() == nil {
			t.Errorf("Validate(%+v): no error", bad)
		}
	}
}
