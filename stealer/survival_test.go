package stealer

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// An observation of the reference Kaplan–Meier curve: a finished
// duration or a running task's age (censored), with its weight.
type observation struct {
	took     time.Duration
	finished bool
	weight   float64
}

// referenceBeyond returns the kind's observations longer than from,
// finished (by recency) and running alike (from negative for all), sorted by duration, a
// finished one before a running one of the same duration: the textbook
// estimator's input, every observation sorted.
func referenceBeyond(d *Durations, kind string, ages []time.Duration, from time.Duration) []observation {
	var obs []observation
	if k := d.kinds[kind]; k != nil {
		n, w := len(k.recent), 1.0
		for i := range n {
			obs = append(obs, observation{k.recent[(k.next-1-i+2*n)%n], true, w})
			w *= recency
		}
	}
	for _, a := range ages {
		obs = append(obs, observation{max(a, 0), false, 1})
	}
	obs = slices.DeleteFunc(obs, func(o observation) bool { return o.took <= from })
	slices.SortFunc(obs, func(a, b observation) int {
		if c := cmp.Compare(a.took, b.took); c != 0 {
			return c
		}
		if a.finished != b.finished {
			if a.finished {
				return -1
			}
			return 1
		}
		return 0
	})
	return obs
}

// referenceMasses is the Kaplan–Meier estimator over obs, sorted, from
// from: the mass of each step, at its time less from, and what is left
// past the last observation at the last; merged where times tie.
func referenceMasses(obs []observation, from time.Duration) []mass {
	atRisk := 0.0
	for _, o := range obs {
		atRisk += o.weight
	}
	var ms []mass
	add := func(at time.Duration, p float64) {
		if p <= 0 {
			return
		}
		s := (at - from).Seconds()
		if n := len(ms); n > 0 && ms[n-1].At == s {
			ms[n-1].P += p
			return
		}
		ms = append(ms, mass{At: s, P: p})
	}
	s := 1.0
	for _, o := range obs {
		if o.finished && atRisk > 0 {
			next := s * max(0, 1-o.weight/atRisk)
			add(o.took, s-next)
			s = next
		}
		atRisk -= o.weight
	}
	if len(obs) > 0 {
		add(obs[len(obs)-1].took, s)
	}
	return ms
}

func meanOf(ms []mass) float64 {
	sum := 0.0
	for _, m := range ms {
		sum += m.At * m.P
	}
	return sum
}

// The curve counts running tasks into the steps their ages reach, never
// sorting them; it says what the textbook estimator over every
// observation sorted says: the kind's mean, each running task's
// remaining time, timed or not, its distribution, and its lower
// quartile (early). Durations are whole seconds of a short range, so
// that finished durations and ages tie often.
func TestSurvivalAgreesWithTheSortedEstimator(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const tol = 1e-6 // seconds
	for trial := range 2000 {
		var d Durations
		for range r.IntN(80) { // past keepDurations: the ring wraps
			d.Observe("k", time.Duration(r.IntN(40))*time.Second)
		}
		ages := []time.Duration{0, -time.Second} // just started; a clock step back
		for range r.IntN(30) {
			ages = append(ages, time.Duration(r.IntN(50))*time.Second)
		}
		hint := time.Duration(r.IntN(3)) * 30 * time.Second
		c := d.survival("k", ages)

		all := referenceBeyond(&d, "k", ages, -1)
		est, atLeast := c.estimate(hint)
		if !slices.ContainsFunc(all, func(o observation) bool { return o.finished }) {
			want := hint
			for _, o := range all {
				want = max(want, o.took)
			}
			if !atLeast || est != want {
				t.Fatalf("trial %d: nothing finished: estimate %v bound %v, want %v, a bound", trial, est, atLeast, want)
			}
		} else if want := meanOf(referenceMasses(all, 0)); atLeast || math.Abs(est.Seconds()-want) > tol {
			t.Fatalf("trial %d: estimate %v bound %v, want %.6fs", trial, est, atLeast, want)
		}

		left, timed := c.remaining(hint)
		want := make([]bool, len(ages))
		for i := range want {
			want[i] = true
		}
		masses := c.masses(want)
		for i, a := range ages {
			a = max(a, 0)
			beyond := referenceBeyond(&d, "k", ages, a)
			if !slices.ContainsFunc(beyond, func(o observation) bool { return o.finished }) {
				guess := float64(max(a/2, hint-a))
				if timed[i] != (hint > a && hint-a >= a/2) || left[i] != guess || masses[i] != nil {
					t.Fatalf("trial %d: task aged %v, nothing finished past it: left %v timed %v masses %v, want the guess %v",
						trial, a, time.Duration(left[i]), timed[i], masses[i], time.Duration(guess))
				}
				if q, ok := c.early(a); ok {
					t.Fatalf("trial %d: task aged %v, nothing finished past it: early %v, want none", trial, a, q)
				}
				continue
			}
			ref := referenceMasses(beyond, a)
			// early: the first step by which a quarter of the mass is
			// gone.
			wantEarly, gone := ref[len(ref)-1].At, 0.0
			for _, m := range ref {
				if gone += m.P; gone >= 1/float64(earlyOdds)-1e-9 {
					wantEarly = m.At
					break
				}
			}
			if q, ok := c.early(a); !ok || math.Abs(q.Seconds()-wantEarly) > tol {
				t.Fatalf("trial %d: task aged %v: early %v %v, want %.6fs (masses %v)", trial, a, q, ok, wantEarly, ref)
			}
			if !timed[i] || math.Abs(left[i]/1e9-meanOf(ref)) > tol {
				t.Fatalf("trial %d: task aged %v: left %v timed %v, want %.6fs", trial, a, time.Duration(left[i]), timed[i], meanOf(ref))
			}
			if len(masses[i]) != len(ref) {
				t.Fatalf("trial %d: task aged %v: masses %v, want %v", trial, a, masses[i], ref)
			}
			for j, m := range masses[i] {
				if math.Abs(m.At-ref[j].At) > tol || math.Abs(m.P-ref[j].P) > 1e-9 {
					t.Fatalf("trial %d: task aged %v: masses %v, want %v", trial, a, masses[i], ref)
				}
			}
		}
	}
}
