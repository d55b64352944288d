package stealer

import (
	"testing"
	"time"
)

func TestDurationsEstimate(t *testing.T) {
	minute := time.Minute
	var d Durations
	if est, bound := d.Estimate("align", nil, 5*minute); !bound || est != 5*minute {
		t.Errorf("nothing known: %v %v, want the hint, as a bound", est, bound)
	}
	// Running tasks alone bound the kind from below, and the bound grows
	// while they run: ten minutes of running says at least ten minutes.
	if est, bound := d.Estimate("align", []time.Duration{3 * minute, 10 * minute}, minute); !bound || est != 10*minute {
		t.Errorf("two running: %v %v, want at least 10m", est, bound)
	}
	// A short kind says nothing of a long one.
	d.Observe("split", 3*time.Second)
	if est, _ := d.Estimate("align", []time.Duration{20 * minute}, 0); est != 20*minute {
		t.Errorf("align after a short split: %v, want 20m", est)
	}
	for range 5 {
		d.Observe("align", 20*minute)
	}
	if est, bound := d.Estimate("align", nil, 0); bound || est != 20*minute {
		t.Errorf("five of 20m = %v (bound %v), want 20m", est, bound)
	}
	// Running tasks long past the finished ones pull the estimate up,
	// the more of them the more: five finished at 20m and k still
	// running at 40m.
	prev := 20 * minute
	for k := 1; k <= 8; k++ {
		running := make([]time.Duration, k)
		for i := range running {
			running[i] = 40 * minute
		}
		est, _ := d.Estimate("align", running, 0)
		if est <= prev || est >= 40*minute {
			t.Errorf("with %d running at 40m: %v, want between %v and 40m", k, est, prev)
		}
		prev = est
	}
	// The newest durations weigh most: a kind whose tasks got longer is
	// estimated nearer the new length than the old.
	for range 5 {
		d.Observe("align", 60*minute)
	}
	if est, _ := d.Estimate("align", nil, 0); est <= 40*minute || est >= 60*minute {
		t.Errorf("five of 20m, then five of 60m: %v, want nearer 60m than 20m", est)
	}
}

func TestDurationsRemaining(t *testing.T) {
	minute := time.Minute
	var d Durations
	for _, m := range []time.Duration{10, 20, 30, 40} {
		d.Observe("k", m*minute)
	}
	// Beyond 15 min: 20, 30, 40 finished: between 5 and 25 left, the
	// newest (40) weighing most.
	if got := d.Remaining("k", 15*minute, nil, 0); got <= 15*minute || got >= 25*minute {
		t.Errorf("remaining at 15m: %v, want 15m to 25m", got)
	}
	// Older than any seen: half as long again.
	if got := d.Remaining("k", 50*minute, nil, 0); got != 25*minute {
		t.Errorf("remaining at 50m: %v, want 25m", got)
	}
	// Nothing known: the hint, or half the age when past it.
	var e Durations
	if got := e.Remaining("x", minute, nil, 10*minute); got != 9*minute {
		t.Errorf("remaining with a hint of 10m at 1m: %v, want 9m", got)
	}
}

func TestDurationsKeepsRecent(t *testing.T) {
	var d Durations
	for range keepDurations {
		d.Observe("k", time.Hour)
	}
	for range keepDurations {
		d.Observe("k", time.Second)
	}
	if est, _ := d.Estimate("k", nil, 0); est != time.Second {
		t.Errorf("after %d recent 1s tasks: %v, want 1s", keepDurations, est)
	}
}

func TestDurationsProfile(t *testing.T) {
	var d Durations
	for i := range keepDurations + 3 {
		d.Observe("k", time.Duration(i+1)*time.Second)
	}
	d.Observe("j", time.Minute)
	p := d.Profile()
	if len(p["k"]) != keepDurations || p["k"][0] != 4*time.Second || p["k"][keepDurations-1] != (keepDurations+3)*time.Second {
		t.Errorf("profile of k: %v, want the last %d, oldest first", p["k"], keepDurations)
	}
	var e Durations
	e.Seed(p)
	for _, k := range []string{"k", "j"} {
		a, _ := d.Estimate(k, nil, 0)
		b, _ := e.Estimate(k, nil, 0)
		if a != b {
			t.Errorf("%s: seeded estimate %v, want %v", k, b, a)
		}
	}
	before, _ := d.Estimate("k", nil, 0)
	p["k"][0] = time.Hour // the profile is the caller's
	if est, _ := d.Estimate("k", nil, 0); est != before {
		t.Errorf("changing a profile changed the model: %v, was %v", est, before)
	}
}

// RunningLeft is the mean of Remaining over the running tasks, in one
// pass over each kind's observations.
func TestDurationsRunningLeft(t *testing.T) {
	var d Durations
	for _, m := range []time.Duration{10, 20, 30, 40, 20, 25} {
		d.Observe("k", m*time.Minute)
	}
	ages := []time.Duration{15 * time.Minute, 5 * time.Minute, 50 * time.Minute, 22 * time.Minute}
	var want time.Duration
	for _, a := range ages {
		want += d.Remaining("k", a, ages, time.Minute)
	}
	want /= time.Duration(len(ages))
	got := d.RunningLeft([]KindWork{{Kind: "k", Running: ages, Hint: time.Minute}})
	if diff := got - want; diff < -time.Second || diff > time.Second {
		t.Errorf("RunningLeft = %v, want the mean of Remaining, %v", got, want)
	}
	if got := d.RunningLeft([]KindWork{{Kind: "k"}}); got != 0 {
		t.Errorf("nothing running: %v, want 0", got)
	}
	var e Durations // nothing known: half the age, or the hint
	if got := e.RunningLeft([]KindWork{{Kind: "x", Running: []time.Duration{10 * time.Minute, 2 * time.Minute}, Hint: 12 * time.Minute}}); got != 7*time.Minute+30*time.Second {
		t.Errorf("nothing finished: %v, want (5m + 10m)/2", got)
	}
}

// Observe reports the first duration known for a kind: not the second,
// nor one after a seeded profile.
func TestObserveReportsTheFirst(t *testing.T) {
	var d Durations
	if !d.Observe("align", time.Minute) {
		t.Error("the first align: Observe said not first")
	}
	if d.Observe("align", time.Minute) {
		t.Error("the second align: Observe said first")
	}
	d.Seed(Profile{"sort": {time.Second}})
	if d.Observe("sort", time.Second) {
		t.Error("a sort after a seeded profile: Observe said first")
	}
}

// TestDurationsMeanJustBegun checks that a kind whose tasks have just
// begun reads as a bound of 0 ("just begun"), apart from a kind that
// nothing tells of, which has no mean at all.
func TestDurationsMeanJustBegun(t *testing.T) {
	var d Durations
	d.Observe("split", 3*time.Second)
	cases := []struct {
		name  string
		work  []KindWork
		want  time.Duration
		bound bool
	}{
		{"just begun", []KindWork{{Kind: "align", Count: 4, Running: []time.Duration{0, 0}}}, 0, true},
		{"nothing runs", []KindWork{{Kind: "align", Count: 4}}, 0, false},
		{"run a while", []KindWork{{Kind: "align", Count: 4, Running: []time.Duration{2 * time.Second}}}, 2 * time.Second, true},
		{"beside a known kind", []KindWork{
			{Kind: "split", Count: 1},
			{Kind: "align", Count: 1, Running: []time.Duration{0}},
		}, 1500 * time.Millisecond, true},
		{"beside a kind nothing tells of", []KindWork{
			{Kind: "align", Count: 1, Running: []time.Duration{0}},
			{Kind: "sort", Count: 1},
		}, 0, false},
	}
	for _, c := range cases {
		got, bound := d.Mean(c.work)
		if got != c.want || bound != c.bound {
			t.Errorf("%s: Mean = %v, %v; want %v, %v", c.name, got, bound, c.want, c.bound)
		}
	}
}
