package stealer

import (
	"fmt"
	"math"
	"time"
)

// Tasks of one kind run about as long as each other, but not quite: a
// sample twice the size of the others takes about twice as long at each
// step of a pipeline, and it does so again the next day. A flow run again
// (a pipeline run daily) knows each task's size from the run before:
// how long it ran against its kind's mean then. Its estimate is then its
// kind's (learned anew as the run goes, see Durations) times that size,
// so that the longest chains, the order of ready tasks and the schedule
// of what is left (Critical) follow each task's own size, and what the
// run learns of its kinds still moves every estimate.
//
// Yesterday's sizes may say little of today's: inputs change, nodes
// differ. A size read as sure when it is mostly noise misleads most
// where it matters, since the longest of many chains each estimated
// with noise is longer than the longest is. So a task's size counts as
// its size to a power, from 0 (it says nothing: every task of a kind
// alike) to 1 (it says all), the slope of what the run's finished tasks
// took against their sizes (see sizeFit): how much of a task's size
// from the run before shows in this one.

// maxSize bounds a task's size, both ways: a task that ran a hundred
// times its kind's mean once (a stalled node, a retry) is expected to run
// this many times as long at most, and a task that ran in no time at
// least this share of its kind's mean.
const maxSize = 8

// maxSizes is how many tasks' sizes a Sizes keeps at most.
const maxSizes = 1 << 15

// Sizes is, by task name, how long each task of a flow ran against its
// kind's mean in an earlier run (1 for a task that ran as long as the
// mean), within [1/8, 8]: what Durations.SizeOf said of it. It is plain
// data (JSON as an object of numbers), kept in the flow's history for
// its next run, and read through TaskSizes.
type Sizes map[string]float64

// Validate reports a size that is not a number within [1/8, 8], naming
// the task.
func (s Sizes) Validate() error {
	for name, v := range s {
		if math.IsNaN(v) || v < 1.0/maxSize || v > maxSize {
			return fmt.Errorf("size of task %q: %v: must be within [1/%d, %d]", name, v, maxSize, maxSize)
		}
	}
	return nil
}

// TaskSizes is what an evaluation knows of its tasks' sizes: each one's
// from an earlier run (Sizes), how much of them shows in this run (see
// sizeFit), and what each task took in this one, so that it can say what
// the next run should start from. A task of known size is expected to
// run its kind's estimate times its size to the fit's slope (Size), and
// teaches its kind's Durations what it took over that (Learn). Tasks are
// indexed as in the flow. The zero value knows no size. It is not safe
// for concurrent use; its owner guards it.
type TaskSizes struct {
	raw   []float32 // per task: its size from the earlier run, 0 when none is known
	eff   []float32 // per task: raw to the power slope
	slope float64   // the power eff was made with
	fits  sizeFits
	took  []float32 // per task: what it took in this run, in seconds, 0 when it did not run
}

// slopeStep is how far the fit's slope moves before the sizes are made
// anew from it: a bound on their cost, a power per task.
const slopeStep = 1.0 / 32

// NewTaskSizes returns the sizes of n tasks, named by name, as from says,
// their slope starting from fit: what the run before saw of its own
// sizes (the zero SizeFit, or one that Validate refuses: nothing).
func NewTaskSizes(n int, name func(i int) string, from Sizes, fit SizeFit) TaskSizes {
	s := TaskSizes{took: make([]float32, n)}
	if fit.Validate() == nil {
		s.fits.from = fit.capped()
	}
	if len(from) == 0 {
		return s
	}
	s.raw = make([]float32, n)
	for i := range n {
		if v, ok := from[name(i)]; ok {
			s.raw[i] = float32(v)
		}
	}
	s.eff = make([]float32, n)
	s.reweigh()
	return s
}

// reweigh makes the sizes from the fit's slope.
func (s *TaskSizes) reweigh() {
	s.slope = s.fits.slope()
	for i, v := range s.raw {
		if v != 0 {
			s.eff[i] = float32(math.Pow(float64(v), s.slope))
		}
	}
}

// Size returns task t's size: how much longer than its kind's estimate
// it is expected to run (its size from the earlier run to the fit's
// slope), and whether that is known; 1 and false when it is not.
func (s *TaskSizes) Size(t int32) (float64, bool) {
	if int(t) >= len(s.eff) || s.eff[t] == 0 {
		return 1, false
	}
	return float64(s.eff[t]), true
}

// Any reports whether the size of any task is known.
func (s *TaskSizes) Any() bool { return len(s.raw) > 0 }

// Of returns task t's size (see Size), 1 when it is not known.
func (s *TaskSizes) Of(t int32) float64 {
	v, _ := s.Size(t)
	return v
}

// Sure reports whether the sizes say more of the tasks than their kinds'
// spread: the fit's slope is at least sureSlope. A running task of known
// size is then expected to end when its size says (see Critical), not
// by its kind's spread.
func (s *TaskSizes) Sure() bool { return s.Any() && s.slope >= sureSlope }

// Learn records that task t, of kind, ran for took in this run: the fit
// counts it when its size is known, and d learns what it says of its
// kind, took over the task's size, so that a kind's durations are those
// of a task of size 1 whatever order its tasks run in (see
// Durations.Learn; hint is the kind's). It returns what the task was
// expected to take before, its kind's estimate times its size (zero when
// nothing was known), for the lineage of the tasks behind (see
// Lineage.Pass); and whether took is the first duration known for the
// kind.
func (s *TaskSizes) Learn(d *Durations, t int32, kind string, took, hint time.Duration) (expected time.Duration, first bool) {
	if int(t) < len(s.took) {
		s.took[t] = max(float32(took.Seconds()), math.SmallestNonzeroFloat32)
	}
	size := s.Of(t)
	expected, first = d.Learn(kind, time.Duration(float64(took)/size), hint)
	if int(t) < len(s.raw) && s.raw[t] != 0 {
		s.fits.add(kind, float64(s.raw[t]), took.Seconds())
		if math.Abs(s.fits.slope()-s.slope) >= slopeStep {
			s.reweigh()
		}
	}
	return time.Duration(float64(expected) * size), first
}

// Remaining returns how much longer running task t, of kind, that has
// run for age is expected to run: what d's Remaining says of its age
// over its size, times its size (hint is the kind's).
func (s *TaskSizes) Remaining(d *Durations, t int32, kind string, age, hint time.Duration) time.Duration {
	size := s.Of(t)
	return time.Duration(float64(d.Remaining(kind, s.Age(t, age), nil, hint)) * size)
}

// Age returns what a running task t that has run for age says of its
// kind: age over its size (see Learn). The ages of a Wave's and a
// KindWork's running tasks are such.
func (s *TaskSizes) Age(t int32, age time.Duration) time.Duration {
	if v, ok := s.Size(t); ok {
		return time.Duration(float64(age) / v)
	}
	return age
}

// Fit returns how much of the sizes showed in this run (see SizeFit),
// for the next run of the flow to start from; what it started from when
// it saw nothing.
func (s *TaskSizes) Fit() SizeFit { return s.fits.fit() }

// Sizes returns what the next run of the flow should start from: the
// size of each task that ran in this one against its kind's estimate in
// d now (SizeOf; kind names its kind), the estimate the next run starts
// from; and, for each that did not (its result was cached), the size the
// run started from (from); up to maxSizes tasks in the flow's order. The
// result is the caller's.
func (s *TaskSizes) Sizes(d *Durations, name, kind func(i int) string, from Sizes) Sizes {
	out := make(Sizes)
	for i, took := range s.took {
		if len(out) >= maxSizes {
			break
		}
		if took == 0 {
			if v, ok := from[name(i)]; ok {
				out[name(i)] = v
			}
			continue
		}
		if v, ok := d.SizeOf(kind(i), time.Duration(float64(took)*float64(time.Second))); ok {
			out[name(i)] = v
		}
	}
	return out
}

// SizeOf returns how long a task of kind that ran for took ran against
// the kind's estimate (Estimate, nothing running) within [1/8, 8], and
// false when the kind has no estimate.
func (d *Durations) SizeOf(kind string, took time.Duration) (float64, bool) {
	k := d.kinds[kind]
	if k == nil || len(k.recent) == 0 {
		return 0, false
	}
	mean := k.mean()
	if mean <= 0 {
		return 0, false
	}
	return min(max(float64(took)/float64(mean), 1.0/maxSize), maxSize), true
}

// sizedLeft returns how much longer a running task of known size is
// expected to run, in the unit of est and age: its size times what its
// kind's estimate est is beyond its age over its size (see
// TaskSizes.Age); zero once it has run that long, when its kind's spread
// says more.
func sizedLeft(size, est, age float64) float64 {
	return max(0, size*(est-age))
}
