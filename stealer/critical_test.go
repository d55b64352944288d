package stealer

import (
	"slices"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
)

// A flow of two lanes behind a running task each: lane A is a long task
// (0, running) then a 10-minute step (2) then the end (4); lane B a
// short one (1, running) then two 1-minute steps (3, 5), then the end.
// A ready task (6) heads a 1-minute step (7) before the end.
func criticalWave(ageLong, ageShort time.Duration) Wave {
	kinds := map[int32]int{0: 0, 1: 1, 2: 2, 3: 3, 5: 3, 4: 4, 6: 3, 7: 3}
	deps := map[int32][]int32{0: {2}, 1: {3}, 2: {4}, 3: {5}, 5: {4}, 6: {7}, 7: {4}}
	return Wave{
		Kinds: []KindWork{
			{Kind: "long", Running: []time.Duration{ageLong}},
			{Kind: "short", Running: []time.Duration{ageShort}},
			{Kind: "tenmin"}, {Kind: "minute"}, {Kind: "end"},
		},
		Tasks:      [][]int32{{0}, {1}},
		Kind:       func(t int32) int { return kinds[t] },
		Dependents: func(t int32) []int32 { return deps[t] },
		Waiting:    func(int32) int { return 1 },
		Resources:  func(int32) ebb.Resources { return cpus(1) },
		Ready:      slices.Values([]int32{6}),
		Ranked:     true,
	}
}

// criticalDurations knows one duration of each of criticalWave's kinds.
func criticalDurations() *Durations {
	var d Durations
	d.Observe("long", 5*time.Minute)
	d.Observe("short", time.Minute)
	d.Observe("tenmin", 10*time.Minute)
	d.Observe("minute", time.Minute)
	d.Observe("end", 30*time.Second)
	return &d
}

func TestCritical(t *testing.T) {
	d := criticalDurations()

	got := d.Critical(criticalWave(2*time.Minute, 30*time.Second))
	// Lane A ends in 3 min + 10 min + 30 s; lane B's chain (two
	// minutes and the end) starts in 30 s; the ready task's (two
	// minutes and the end) now, so B's is moot. The work behind the
	// running tasks and of the ready one: 10 min, four of 1 min, and
	// the end, one cpu each.
	want := Critical{
		End: 13*time.Minute + 30*time.Second,
		Chains: []Chain{
			{In: 0, Length: 2*time.Minute + 30*time.Second},
			{In: 3 * time.Minute, Length: 10*time.Minute + 30*time.Second},
		},
		Work:   14*time.Minute + 30*time.Second,
		Ranked: true,
	}
	if got.End != want.End || !slices.Equal(got.Chains, want.Chains) || got.Work != want.Work || got.Ranked != want.Ranked {
		t.Errorf("Critical = %+v, want %+v", got, want)
	}
	// Six tasks are left to start: the ready one and the five behind
	// (2, 3, 4, 5, 7), each needing one cpu.
	if got.Waiting != 6 || len(got.Left) != 1 || got.Left[0].Count != 6 || !got.Left[0].Resources.Equal(cpus(1)) {
		t.Errorf("Critical: Waiting %d, Left %v; want 6, and 6 of 1 cpu", got.Waiting, got.Left)
	}

	// The long task outlived every one of its kind seen: it is
	// expected to run half as long again (4 min).
	got = d.Critical(criticalWave(8*time.Minute, 30*time.Second))
	if want := 14*time.Minute + 30*time.Second; got.End != want {
		t.Errorf("Critical with the long task past every one seen: End = %v, want %v", got.End, want)
	}

	// A running task of a kind none of which has finished may end at
	// any moment: its chain counts from now.
	var fresh Durations
	fresh.Observe("tenmin", 10*time.Minute)
	fresh.Observe("end", 30*time.Second)
	got = fresh.Critical(criticalWave(2*time.Minute, 30*time.Second))
	if want := 10*time.Minute + 30*time.Second; got.End != want {
		t.Errorf("Critical with the running kinds unknown: End = %v, want %v", got.End, want)
	}

	// Nothing runs nor is ready: nothing known.
	if got := d.Critical(Wave{Kind: func(int32) int { return 0 }, Dependents: func(int32) []int32 { return nil }}); got.End != 0 || got.Chains != nil {
		t.Errorf("Critical of nothing = %+v, want the zero value", got)
	}
}

// A flow too large to walk within the budget says nothing.
func TestCriticalBudget(t *testing.T) {
	var d Durations
	d.Observe("step", time.Second)
	w := Wave{
		Kinds:      []KindWork{{Kind: "step", Running: []time.Duration{0}}},
		Tasks:      [][]int32{{0}},
		Kind:       func(int32) int { return 0 },
		Dependents: func(i int32) []int32 { return []int32{i + 1} }, // an endless chain
		Waiting:    func(int32) int { return 1 },
		Resources:  func(int32) ebb.Resources { return cpus(1) },
	}
	if got := d.Critical(w); got.End != 0 || got.Chains != nil {
		t.Errorf("Critical past the budget = %+v, want the zero value", got)
	}
}

// Ranks are times when every kind has a duration: a hint, or one seen to
// finish (in no time, too).
func TestWeightsTimed(t *testing.T) {
	var d Durations
	d.Observe("a", time.Minute)
	d.Observe("instant", 0)
	if w, timed := d.Weights([]KindWork{{Kind: "a"}, {Kind: "instant"}, {Kind: "hinted", Hint: time.Second}}); !timed || w[0] != 60 || w[2] != 1 {
		t.Errorf("Weights of known kinds = %v, %v; want 60 s and 1 s, timed", w, timed)
	}
	if w, timed := d.Weights([]KindWork{{Kind: "a"}, {Kind: "new"}}); timed || w[1] != 60 {
		t.Errorf("Weights with a kind never seen = %v, %v; want it at the others' mean, untimed", w, timed)
	}
}

// Critical walks at most criticalBudget tasks: a wave with more ready
// tasks than that gets the zero value, whether they are walked one by
// one or their count is told (Wave.ReadyCount), which spares the walk.
// longAndMinutes is a wave of one task of kind "long" running for a
// minute (task 0), whose ready tasks (1 on, see readyTasks) are of kind
// "minute", each needing res(t); nothing depends on anything.
func longAndMinutes(res func(int32) ebb.Resources) Wave {
	return Wave{
		Kinds:      []KindWork{{Kind: "long", Running: []time.Duration{time.Minute}}, {Kind: "minute"}},
		Tasks:      [][]int32{{0}},
		Kind:       func(t int32) int { return min(int(t), 1) },
		Dependents: func(int32) []int32 { return nil },
		Waiting:    func(int32) int { return 0 },
		Resources:  res,
	}
}

// readyTasks yields tasks 1 to n, as Wave.Ready.
func readyTasks(n int) func(func(int32) bool) {
	return func(yield func(int32) bool) {
		for i := range int32(n) {
			if !yield(1 + i) {
				return
			}
		}
	}
}

func TestCriticalGivesUpPastItsBudget(t *testing.T) {
	var d Durations
	d.Observe("long", 5*time.Minute)
	d.Observe("minute", time.Minute)
	w := longAndMinutes(func(int32) ebb.Resources { return cpus(1) })
	w.Ready = readyTasks(3)
	if got := d.Critical(w); got.End != 4*time.Minute || got.Work != 3*time.Minute {
		t.Errorf("3 ready: %+v, want End 4m, Work 3m", got)
	}
	w.ReadyCount = 3
	if got := d.Critical(w); got.End != 4*time.Minute || got.Work != 3*time.Minute {
		t.Errorf("3 ready, told: %+v, want End 4m, Work 3m", got)
	}
	w.Ready, w.ReadyCount = readyTasks(criticalBudget+1), 0
	if got := d.Critical(w); got.End != 0 || got.Work != 0 || got.Chains != nil {
		t.Errorf("%d ready: %+v, want the zero value", criticalBudget+1, got)
	}
	w.Ready, w.ReadyCount = readyTasks(3), criticalBudget+1
	if got := d.Critical(w); got.End != 0 || got.Work != 0 || got.Chains != nil {
		t.Errorf("3 ready, told %d: %+v, want the zero value", criticalBudget+1, got)
	}
}

// Critical lists what the tasks left need while they are few
// (leftBudget), by shape, largest first, even when the wave hands out
// one map for every task's resources; past that it counts them only.
func TestCriticalLeft(t *testing.T) {
	var d Durations
	d.Observe("long", 5*time.Minute)
	d.Observe("minute", time.Minute)
	shared := ebb.Resources{} // the wave reuses it, as NextWave allows
	w := longAndMinutes(func(t int32) ebb.Resources {
		shared[ebb.CPU] = float64(1 + t%2)
		return shared
	})
	w.Ready = readyTasks(leftBudget)
	got := d.Critical(w)
	want := []ebb.Demand{{Resources: cpus(2), Count: leftBudget / 2}, {Resources: cpus(1), Count: leftBudget / 2}}
	if got.Waiting != leftBudget || len(got.Left) != 2 ||
		!got.Left[0].Resources.Equal(want[0].Resources) || got.Left[0].Count != want[0].Count ||
		!got.Left[1].Resources.Equal(want[1].Resources) || got.Left[1].Count != want[1].Count {
		t.Errorf("%d left: Waiting %d, Left %v; want %v", leftBudget, got.Waiting, got.Left, want)
	}
	w.Ready = readyTasks(leftBudget + 1)
	if got := d.Critical(w); got.Waiting != leftBudget+1 || got.Left != nil {
		t.Errorf("%d left: Waiting %d, Left %v; want them counted, not listed", leftBudget+1, got.Waiting, got.Left)
	}
	var fresh Durations // the running kind's end unknown
	fresh.Observe("minute", time.Minute)
	w.Ready = readyTasks(leftBudget)
	if got := fresh.Critical(w); got.End != 0 || !got.Walked || got.Waiting != leftBudget || len(got.Left) != 2 {
		t.Errorf("%d left, no end known: %+v; want them walked and listed, no End", leftBudget, got)
	}
	w.Ready = readyTasks(leftBudget + 1)
	if got := fresh.Critical(w); got.Walked || got.Waiting != 0 {
		t.Errorf("%d left, no end known: %+v; want the zero value", leftBudget+1, got)
	}
	w.Ready = readyTasks(3)
	w.Arriving = true
	if got := d.Critical(w); got.Walked || got.Waiting != 3 {
		t.Errorf("3 left and more to arrive: Walked %v, Waiting %d; want not all walked, 3 waiting", got.Walked, got.Waiting)
	}
	w.Ready, w.Arriving = nil, false
	if got := d.Critical(w); got.End == 0 || !got.Walked || got.Waiting != 0 || got.Left != nil {
		t.Errorf("nothing left to start: %+v, want End set, walked, nothing waiting or left", got)
	}
}
