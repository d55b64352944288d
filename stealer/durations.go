package stealer

import (
	"cmp"
	"maps"
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

// Observe records that a task of kind ran for took, and reports whether
// it is the first duration known for the kind (none observed nor seeded
// before): the kind then weighs its own estimate in Weights, no longer
// the other kinds' mean, and ranks built from Weights change.
func (d *Durations) Observe(kind string, took time.Duration) (first bool) {
	if d.kinds == nil {
		d.kinds = make(map[string]*kindDurations)
	}
	k := d.kinds[kind]
	if k == nil {
		k = &kindDurations{}
		d.kinds[kind] = k
	}
	first = len(k.recent) == 0
	took = max(took, 0)
	if len(k.recent) < keepDurations {
		k.recent = append(k.recent, took)
		return first
	}
	k.recent[k.next] = took
	k.next = (k.next + 1) % keepDurations
	return first
}

// Estimate returns how long a task of kind that has not started yet is
// expected to run, given the ages of the kind's running tasks: the mean of
// the kind's durations, finished and running alike, the running ones
// counting as "at least this long" (the Kaplan–Meier restricted mean).
// The mean, not the median, since a backlog drains in the sum of its
// tasks' durations. While tasks run longer than any finished one, the
// estimate is a lower bound that grows as they run; with only running
// tasks, it is the longest of them, or hint if that is longer, and it
// reports that it is only a lower bound. With nothing observed and
// nothing running, it returns hint, also as a bound.
func (d *Durations) Estimate(kind string, running []time.Duration, hint time.Duration) (est time.Duration, atLeast bool) {
	obs := d.observations(kind, running)
	if !anyFinished(obs) {
		for _, o := range obs {
			hint = max(hint, o.took)
		}
		return hint, true
	}
	return meanFrom(obs, 0), false
}

// Remaining returns how much longer a task of kind that has run for age
// is expected to run: the mean of the kind's durations beyond age, less
// age. When no task of the kind has been seen to finish past age, it
// expects the task to run half as long again as it has (the longer a task
// has run, the longer it is likely to go on), and at least until hint.
func (d *Durations) Remaining(kind string, age time.Duration, running []time.Duration, hint time.Duration) time.Duration {
	left, _ := d.remaining(kind, age, running, hint)
	return left
}

// remaining is Remaining, and whether it is timed: false when no task of
// the kind was seen to finish past age and there is no hint beyond it, so
// that the figure is only the half-again guess.
func (d *Durations) remaining(kind string, age time.Duration, running []time.Duration, hint time.Duration) (time.Duration, bool) {
	var beyond []observation
	for _, o := range d.observations(kind, running) {
		if o.took > age {
			beyond = append(beyond, o)
		}
	}
	if anyFinished(beyond) {
		return meanFrom(beyond, age), true
	}
	if hint > age {
		return max(age/2, hint-age), age/2 <= hint-age
	}
	return age / 2, false
}

// An observation is a finished task's duration, or a running task's age
// (censored: it will run at least that long).
type observation struct {
	took     time.Duration
	finished bool
	weight   float64
	running  int // a running one's index in the ages given; -1 for a finished one
}

// recency is the weight of a finished duration relative to the next newer
// one: the newest weighs 1, the one before 7/8, and so on, as in a moving
// average that gives the latest an eighth, so that the estimate follows a
// kind whose tasks change as the run goes (a stage of short tasks after
// one of long ones). Running tasks weigh 1: they are news.
const recency = 7.0 / 8

func (d *Durations) observations(kind string, running []time.Duration) []observation {
	var obs []observation
	if k := d.kinds[kind]; k != nil {
		n := len(k.recent)
		obs = make([]observation, 0, n+len(running))
		w := 1.0
		// Newest first: the ring's newest is just before next.
		for i := range n {
			t := k.recent[(k.next-1-i+2*n)%n]
			obs = append(obs, observation{t, true, w, -1})
			w *= recency
		}
	}
	for i, a := range running {
		obs = append(obs, observation{max(a, 0), false, 1, i})
	}
	return obs
}

// meanFrom returns the Kaplan–Meier restricted mean of obs beyond from,
// each observation counted by its weight,
// all of which are longer than from: the area under the estimated
// survival curve from from to the longest observation. obs is sorted in
// place.
func meanFrom(obs []observation, from time.Duration) time.Duration {
	sortObservations(obs)
	atRisk := 0.0
	for _, o := range obs {
		atRisk += o.weight
	}
	surv, area, prev := 1.0, 0.0, from
	for _, o := range obs {
		area += surv * float64(o.took-prev)
		prev = o.took
		if o.finished && atRisk > 0 {
			surv *= max(0, 1-o.weight/atRisk)
		}
		atRisk -= o.weight
	}
	return time.Duration(area)
}

func anyFinished(obs []observation) bool {
	return slices.ContainsFunc(obs, func(o observation) bool { return o.finished })
}

// KindWork is ready work of one kind, as an evaluation sees it: Count
// tasks not started, the ages of the kind's running tasks, and the kind's
// duration hint.
type KindWork struct {
	Kind    string
	Count   int
	Running []time.Duration
	Hint    time.Duration
}

// Mean returns how long one task of work is expected to run: the mean of
// its kinds' estimates (see Estimate), weighed by their counts, and
// whether that is only a lower bound (some kind among them has no
// finished task yet). It returns 0 and false when work holds no task, or
// when a kind among them has no estimate at all. An evaluation reports
// this for each shape of its demand (ebb.Demand.Duration).
func (d *Durations) Mean(work []KindWork) (time.Duration, bool) {
	var sum time.Duration
	n, bound := 0, false
	for _, w := range work {
		if w.Count <= 0 {
			continue
		}
		est, atLeast := d.Estimate(w.Kind, w.Running, w.Hint)
		if est <= 0 {
			return 0, false
		}
		bound = bound || atLeast
		sum += est * time.Duration(w.Count)
		n += w.Count
	}
	if n == 0 {
		return 0, false
	}
	return sum / time.Duration(n), bound
}

// maxProfileKinds bounds a Profile: the kinds with the most recent
// observations are kept.
const maxProfileKinds = 1024

// A Profile is what a Durations model has learned, to carry to a later
// run of the same flow: per kind, its most recent durations, oldest
// first. It is plain data (JSON as an object of arrays of nanoseconds).
type Profile map[string][]time.Duration

// Profile returns what d has learned, at most keepDurations durations of
// at most 1024 kinds (those observed most). The result is the caller's.
func (d *Durations) Profile() Profile {
	kinds := make([]string, 0, len(d.kinds))
	for k := range d.kinds {
		kinds = append(kinds, k)
	}
	slices.SortFunc(kinds, func(a, b string) int {
		if c := cmp.Compare(len(d.kinds[b].recent), len(d.kinds[a].recent)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	p := make(Profile, min(len(kinds), maxProfileKinds))
	for _, k := range kinds[:min(len(kinds), maxProfileKinds)] {
		r := d.kinds[k]
		p[k] = append(slices.Clone(r.recent[r.next:]), r.recent[:r.next]...)
	}
	return p
}

// Seed makes d start from p: each kind's durations are observed, oldest
// first, so that what d observes next takes their place as it would in
// one long run.
func (d *Durations) Seed(p Profile) {
	for _, k := range slices.Sorted(maps.Keys(p)) {
		for _, t := range p[k] {
			d.Observe(k, t)
		}
	}
}

// Weights returns, for each kind of kinds, how long a task of it is
// expected to run, in seconds, for ordering work by the longest path to
// the end of the flow: its estimate (Estimate with its hint; the running
// tasks are not used), or, for a kind with none, the mean of the other
// kinds' estimates, or 1 when no kind has one, so that a path of unknown
// tasks counts its tasks. timed reports that every kind has a hint or
// was seen to finish: ranks weighed so are times, comparable with
// Durations.Critical's chains.
func (d *Durations) Weights(kinds []KindWork) (w []float64, timed bool) {
	w = make([]float64, len(kinds))
	known, sum := 0, 0.0
	timed = true
	for i, k := range kinds {
		est, _ := d.Estimate(k.Kind, nil, k.Hint)
		if est > 0 {
			w[i] = est.Seconds()
			known++
			sum += w[i]
		}
		// A kind seen to take no time is known too.
		timed = timed && (k.Hint > 0 || d.finished(k.Kind))
	}
	fallback := 1.0
	if known > 0 {
		fallback = sum / float64(known)
	}
	for i := range w {
		if w[i] == 0 {
			w[i] = fallback
		}
	}
	return w, timed
}

// MeanRemaining returns how much longer, on average, the running tasks of
// kind are expected to run, given their ages: for each, the mean of the
// kind's durations beyond its age, less its age (as Remaining), in one
// pass over the kind's observations. It returns 0 when ages is empty.
func (d *Durations) MeanRemaining(kind string, ages []time.Duration, hint time.Duration) time.Duration {
	if len(ages) == 0 {
		return 0
	}
	left, _ := d.remainingEach(kind, ages, hint)
	var sum float64
	for _, l := range left {
		sum += l
	}
	return time.Duration(sum / float64(len(ages)))
}

// remainingEach returns, for each of the running tasks of kind whose ages
// are given, what Remaining says of it, in nanoseconds, and whether that
// is timed (see remaining), in one pass over the kind's observations.
func (d *Durations) remainingEach(kind string, ages []time.Duration, hint time.Duration) (left []float64, timed []bool) {
	if len(ages) == 0 {
		return nil, nil
	}
	return d.survival(kind, ages).remaining(len(ages), hint)
}

// A survival is the Kaplan–Meier curve of a kind's durations, its
// running tasks' ages counted as censored: obs sorted by duration,
// surv[i] the survival just before obs[i] (surv[m] after the last),
// area[i] the area under the curve from obs[i] to the last observation,
// finishedAfter[i] whether a finished observation lies at or after i.
type survival struct {
	obs           []observation
	surv, area    []float64
	finishedAfter []bool
}

// survival returns the curve of kind's durations and of the running
// tasks whose ages are given.
func (d *Durations) survival(kind string, ages []time.Duration) *survival {
	obs := d.observations(kind, ages)
	sortObservations(obs)
	m := len(obs)
	c := &survival{obs: obs, surv: make([]float64, m+1), area: make([]float64, m+1), finishedAfter: make([]bool, m+1)}
	atRisk := 0.0
	for _, o := range obs {
		atRisk += o.weight
	}
	s := 1.0
	for i, o := range obs {
		c.surv[i] = s
		if o.finished && atRisk > 0 {
			s *= max(0, 1-o.weight/atRisk)
		}
		atRisk -= o.weight
	}
	c.surv[m] = s
	for i := m - 1; i >= 0; i-- {
		c.area[i] = c.area[i+1]
		if i+1 < m {
			// Between obs[i] and obs[i+1] the curve is what it is after i.
			c.area[i] += c.surv[i+1] * float64(obs[i+1].took-obs[i].took)
		}
		c.finishedAfter[i] = c.finishedAfter[i+1] || obs[i].finished
	}
	return c
}

// beyond returns, for the running observation at i, the index of the
// first observation past its age, and whether what lies there times its
// remaining time: a finished one at or after it, and a survival above
// zero at its age.
func (c *survival) beyond(i int) (int, bool) {
	next := i + 1
	for next < len(c.obs) && c.obs[next].took == c.obs[i].took {
		next++
	}
	return next, next < len(c.obs) && c.finishedAfter[next] && c.surv[i] > 0
}

// remaining is remainingEach for the n running tasks the curve counts.
func (c *survival) remaining(n int, hint time.Duration) (left []float64, timed []bool) {
	left = make([]float64, n)
	timed = make([]bool, n)
	for i, o := range c.obs {
		if o.finished {
			continue
		}
		// A running task: what lies beyond its age, given it got there.
		// Its own step counts from the next observation on.
		if _, ok := c.beyond(i); ok {
			left[o.running] = c.area[i] / c.surv[i] // from its age to the last observation
			timed[o.running] = true
			continue
		}
		left[o.running] = float64(max(o.took/2, hint-o.took))
		timed[o.running] = hint > o.took && hint-o.took >= o.took/2
	}
	return left, timed
}

// sortObservations sorts obs by duration, a finished one before a running
// one of the same duration.
func sortObservations(obs []observation) {
	slices.SortFunc(obs, func(a, b observation) int {
		if c := cmp.Compare(a.took, b.took); c != 0 {
			return c
		}
		switch {
		case a.finished && !b.finished:
			return -1
		case !a.finished && b.finished:
			return 1
		}
		return 0
	})
}

// RunningLeft returns how much longer, on average, the running tasks of
// work (their ages in Running, kind by kind) are expected to run: the
// mean of MeanRemaining over every kind, weighed by how many of its tasks
// run; 0 when none runs. An evaluation reports it in Snapshot.Remaining
// (see RemainingEstimator).
func (d *Durations) RunningLeft(work []KindWork) time.Duration {
	var sum time.Duration
	n := 0
	for _, w := range work {
		if len(w.Running) == 0 {
			continue
		}
		sum += d.MeanRemaining(w.Kind, w.Running, w.Hint) * time.Duration(len(w.Running))
		n += len(w.Running)
	}
	if n == 0 {
		return 0
	}
	return sum / time.Duration(n)
}
