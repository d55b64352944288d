package stealer

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestLineage(t *testing.T) {
	var l Lineage
	if got := l.Scale(); got != 1 {
		t.Errorf("zero Lineage: Scale = %v, want 1", got)
	}
	// A step that took 90 s where its kind was expected to take 60 s.
	step := Lineage{}.Pass(Lineage{}, 90*time.Second, time.Minute, 1)
	if got := step.Scale(); got != 1.5 {
		t.Errorf("one step 1.5× its estimate: Scale = %v, want 1.5", got)
	}
	// The next step carries the first: 90 + 150 s against 60 + 100 s.
	next := Lineage{}.Pass(step, 150*time.Second, 100*time.Second, 1)
	if got := next.Scale(); got != 1.5 {
		t.Errorf("two steps 1.5× their estimates: Scale = %v, want 1.5", got)
	}
	// A step of a kind nothing was known of says nothing, but passes
	// on what led to it.
	if got := (Lineage{}).Pass(step, time.Hour, 0, 1).Scale(); got != 1.5 {
		t.Errorf("an unknown kind's step after a 1.5× one: Scale = %v, want 1.5", got)
	}
	// A join of a chain 1.5× its estimates and one on its estimates
	// weighs them alike: (90 + 60) / (60 + 60).
	even := Lineage{}.Pass(Lineage{}, time.Minute, time.Minute, 1)
	join := Lineage{}.Pass(step, 0, 0, 2).Pass(even, 0, 0, 2)
	if got := join.Scale(); got != 1.25 {
		t.Errorf("a join of a 1.5× chain and a 1× one: Scale = %v, want 1.25", got)
	}
	// Bounded: ten times as long says twice, a tenth says half.
	if got := (Lineage{}).Pass(Lineage{}, 10*time.Minute, time.Minute, 1).Scale(); got != maxScale {
		t.Errorf("10× its estimate: Scale = %v, want %v", got, float64(maxScale))
	}
	if got := (Lineage{}).Pass(Lineage{}, 6*time.Second, time.Minute, 1).Scale(); got != 1.0/maxScale {
		t.Errorf("a tenth of its estimate: Scale = %v, want %v", got, 1.0/maxScale)
	}
}

// The chain behind a running task whose lineage ran 1.5× its estimates
// is expected to run 1.5× its kinds' estimates too, and the task itself
// at least 1.5× its own kind's.
func TestCriticalScalesByLineage(t *testing.T) {
	d := criticalDurations()
	w := criticalWave(2*time.Minute, 30*time.Second)
	w.Scale = func(t int32) float64 {
		if t == 0 {
			return 1.5
		}
		return 1
	}
	got := d.Critical(w)
	// Lane A's task is expected to run 7.5 min (5.5 min left), and its
	// chain 15 min 45 s (10.5 min × 1.5).
	want := 5*time.Minute + 30*time.Second + 15*time.Minute + 45*time.Second
	if got.End != want {
		t.Errorf("Critical with lane A's lineage 1.5× its estimates: End = %v, want %v", got.End, want)
	}
	if c := (Chain{In: 5*time.Minute + 30*time.Second, Length: 15*time.Minute + 45*time.Second}); !slices.Contains(got.Chains, c) {
		t.Errorf("Critical with lane A's lineage 1.5× its estimates: chains %v, want %v among them", got.Chains, c)
	}
	// A ready task's chain scales by its own lineage.
	w = criticalWave(2*time.Minute, 30*time.Second)
	w.Scale = func(t int32) float64 {
		if t == 6 {
			return 2
		}
		return 1
	}
	got = d.Critical(w)
	if want := 5 * time.Minute; got.Chains[0] != (Chain{Length: want}) {
		t.Errorf("Critical with the ready task's lineage 2× its estimates: first chain %v, want one of %v from now", got.Chains[0], want)
	}
}

// What Learn returns as expected is what Estimate said of the kind with
// no task running, computed without a curve.
func TestLearnExpectsWhatEstimateSaid(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for c := range 200 {
		var d Durations
		if got, _ := d.Learn("k", time.Second, 5*time.Second); got != 5*time.Second {
			t.Fatalf("case %d: nothing known: expected %v, want the hint 5s", c, got)
		}
		for range rng.IntN(3 * keepDurations) {
			took := time.Duration(rng.IntN(5)) * time.Duration(1+rng.IntN(1000)) * time.Millisecond // ties too
			want, _ := d.Estimate("k", nil, 0)
			got, _ := d.Learn("k", took, 0)
			if diff := got - want; diff < -time.Microsecond || diff > time.Microsecond {
				t.Fatalf("case %d: Learn expected %v, Estimate said %v", c, got, want)
			}
		}
	}
}
