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

// Learn observes that a task of kind ran for took (see Observe), and
// returns what was expected of it before: the kind's finished tasks'
// estimate, or hint when none had finished (zero when neither is
// known), for the lineage of the tasks behind it (see Lineage.Pass); and
// whether took is the first duration known for the kind.
func (d *Durations) Learn(kind string, took, hint time.Duration) (expected time.Duration, first bool) {
	expected = hint
	if k := d.kinds[kind]; k != nil && len(k.recent) > 0 {
		expected = k.mean()
	}
	return expected, d.Observe(kind, took)
}

// mean is what Estimate says of a kind with no task running, at the cost
// of a pass over its durations, none sorted: with nothing censored, the
// Kaplan–Meier mean is the mean of the durations weighed by recency.
func (k *kindDurations) mean() time.Duration {
	n := len(k.recent)
	sum, weight, w := 0.0, 0.0, 1.0
	for i := range n { // newest first: the ring's newest is just before next
		sum += w * float64(k.recent[(k.next-1-i+2*n)%n])
		weight += w
		w *= recency
	}
	return time.Duration(sum / weight)
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
	return d.survival(kind, running).estimate(hint)
}

// Remaining returns how much longer a task of kind that has run for age
// is expected to run: the mean of the kind's durations beyond age, less
// age. When no task of the kind has been seen to finish past age, it
// expects the task to run half as long again as it has (the longer a task
// has run, the longer it is likely to go on), and at least until hint.
func (d *Durations) Remaining(kind string, age time.Duration, running []time.Duration, hint time.Duration) time.Duration {
	left, _ := d.survival(kind, running).left(max(age, 0), hint)
	return time.Duration(left)
}

// recency is the weight of a finished duration relative to the next newer
// one: the newest weighs 1, the one before 7/8, and so on, as in a moving
// average that gives the latest an eighth, so that the estimate follows a
// kind whose tasks change as the run goes (a stage of short tasks after
// one of long ones). Running tasks weigh 1: they are news.
const recency = 7.0 / 8

// KindWork is ready work of one kind, as an evaluation sees it: Count
// tasks not started, the ages of the kind's running tasks, each over its
// size (TaskSizes.Age), and the kind's duration hint. Units, when not
// zero, is the Count tasks' sizes summed (TaskSizes.Of), for Mean; zero
// counts each as 1. Sizes, when not nil, holds each running task's size,
// in the order of Running, for RunningLeft; nil says 1 for all.
type KindWork struct {
	Kind    string
	Count   int
	Units   float64
	Running []time.Duration
	Sizes   []float64
	Hint    time.Duration
}

// Mean returns how long one task of work is expected to run: the mean of
// its kinds' estimates (see Estimate), each times its tasks' sizes
// summed (KindWork.Units, Count when zero), over their count, and
// whether that is only a lower bound (some kind among them has no
// finished task yet). A kind whose tasks have just begun (they run, none
// has finished, and none has run any time) counts as 0, a bound: the
// mean is then a bound that may be 0, which says "just begun". It
// returns 0 and false when work holds no task, or when a kind among them
// has no estimate at all (nothing of it runs or has finished). An
// evaluation reports this for each shape of its demand
// (ebb.Demand.Duration).
func (d *Durations) Mean(work []KindWork) (time.Duration, bool) {
	var sum time.Duration
	n, bound := 0, false
	for _, w := range work {
		if w.Count <= 0 {
			continue
		}
		est, atLeast := d.Estimate(w.Kind, w.Running, w.Hint)
		if est <= 0 && (!atLeast || len(w.Running) == 0) {
			return 0, false
		}
		bound = bound || atLeast
		units := float64(w.Count)
		if w.Units > 0 {
			units = w.Units
		}
		sum += time.Duration(float64(est) * units)
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

// remainingEach returns, for each of the running tasks of kind whose ages
// are given, what Remaining says of it, in nanoseconds, and whether that
// is timed (see survival.left), in one pass over the kind's observations.
func (d *Durations) remainingEach(kind string, ages []time.Duration, hint time.Duration) (left []float64, timed []bool) {
	if len(ages) == 0 {
		return nil, nil
	}
	return d.survival(kind, ages).remaining(hint)
}

// RunningLeft returns how much longer, on average, the running tasks of
// work (their ages in Running, kind by kind) are expected to run: for
// each, what Remaining says of it times its size (KindWork.Sizes); 0
// when none runs. An evaluation reports it in Snapshot.Remaining (see
// RemainingEstimator).
func (d *Durations) RunningLeft(work []KindWork) time.Duration {
	var sum float64
	n := 0
	for _, w := range work {
		if len(w.Running) == 0 {
			continue
		}
		left, _ := d.remainingEach(w.Kind, w.Running, w.Hint)
		for i, l := range left {
			if i < len(w.Sizes) {
				l *= w.Sizes[i]
			}
			sum += l
		}
		n += len(w.Running)
	}
	if n == 0 {
		return 0
	}
	return time.Duration(sum / float64(n))
}
