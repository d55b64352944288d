package stealer

import (
	"cmp"
	"slices"
	"time"
)

// keepDurations is how many finished durations a Durations model keeps
// per kind: the most recent.
const keepDurations = 64

// Durations learns how long tasks of each kind run, so that a policy can
// tell how long the ready work will take to drain. Tasks of one kind (see
// ebb.Task.KindName) are expected to run about as long as each other;
// kinds may differ a hundredfold, so a single average over all tasks (a
// short setup task, then long ones) misleads.
//
// Finished tasks are observations; running tasks are censored ones: a task
// of a kind that has run for ten minutes says the kind takes at least ten
// minutes, long before any of them finishes. Estimates combine both
// (Kaplan–Meier), and are pure functions of what was observed and the
// ages given, so the runtime (runner.Eval) and the simulator (package sim)
// estimate alike.
//
// The zero value knows nothing and is ready to use. A Durations is not
// safe for concurrent use; its owner guards it.
type Durations struct {
	kinds map[string]*kindDurations
}

type kindDurations struct {
	recent []time.Duration // at most keepDurations, a ring from next
	next   int
}

// Observe records that a task of kind ran for took.
func (d *Durations) Observe(kind string, took time.Duration) {
	if d.kinds == nil {
		d.kinds = make(map[string]*kindDurations)
	}
	k := d.kinds[kind]
	if k == nil {
		k = &kindDurations{}
		d.kinds[kind] = k
	}
	took = max(took, 0)
	if len(k.recent) < keepDurations {
		k.recent = append(k.recent, took)
		return
	}
	k.recent[k.next] = took
	k.next = (k.next + 1) % keepDurations
}

// Estimate returns how long a task of kind that has not started yet is
// expected to run, given the ages of the kind's running tasks: the median
// of the kind's durations, finished and running alike (the running ones
// counting as "at least this long"). When too many tasks still run for
// the median to be known, it is the longest of them so far, a lower bound
// that grows while they run. With nothing observed and nothing running,
// it returns hint, and false.
func (d *Durations) Estimate(kind string, running []time.Duration, hint time.Duration) (time.Duration, bool) {
	obs := d.observations(kind, running)
	if len(obs) == 0 {
		return hint, false
	}
	est := median(obs, 0)
	if !anyFinished(obs) {
		// Only running tasks: they bound the duration from below, and
		// the hint still holds above that.
		est = max(est, hint)
	}
	return est, true
}

// Remaining returns how much longer a task of kind that has run for age
// is expected to run: the median of the kind's durations beyond age, less
// age. When no task of the kind has been seen to run longer than age, it
// expects the task to run half as long again as it has (the longer a task
// has run, the longer it is likely to go on), and at least until hint.
func (d *Durations) Remaining(kind string, age time.Duration, running []time.Duration, hint time.Duration) time.Duration {
	obs := d.observations(kind, running)
	var beyond []observation
	for _, o := range obs {
		if o.took > age {
			beyond = append(beyond, o)
		}
	}
	if anyFinished(beyond) {
		return median(beyond, age) - age
	}
	return max(age/2, hint-age)
}

// An observation is a finished task's duration, or a running task's age
// (censored: it will run at least that long).
type observation struct {
	took     time.Duration
	finished bool
}

func (d *Durations) observations(kind string, running []time.Duration) []observation {
	var obs []observation
	if k := d.kinds[kind]; k != nil {
		obs = make([]observation, 0, len(k.recent)+len(running))
		for _, t := range k.recent {
			obs = append(obs, observation{t, true})
		}
	}
	for _, a := range running {
		obs = append(obs, observation{max(a, 0), false})
	}
	return obs
}

// median returns the Kaplan–Meier median of obs, all beyond from: the
// first finished duration at which fewer than half are expected to go on.
// When censoring hides it, it returns the longest observation, a lower
// bound. obs is sorted in place.
func median(obs []observation, from time.Duration) time.Duration {
	slices.SortFunc(obs, func(a, b observation) int {
		if c := cmp.Compare(a.took, b.took); c != 0 {
			return c
		}
		// A task finished at t is counted before one still running at t.
		switch {
		case a.finished && !b.finished:
			return -1
		case !a.finished && b.finished:
			return 1
		}
		return 0
	})
	surv, atRisk := 1.0, len(obs)
	for _, o := range obs {
		if o.finished {
			surv *= 1 - 1/float64(atRisk)
			if surv <= 0.5+1e-12 {
				return max(o.took, from)
			}
		}
		atRisk--
	}
	return max(obs[len(obs)-1].took, from)
}

func anyFinished(obs []observation) bool {
	return slices.ContainsFunc(obs, func(o observation) bool { return o.finished })
}
