package stealer

import (
	"fmt"
	"math"
)

// How much of a task's size from an earlier run shows in this one: the
// slope of the log of what its tasks took against the log of their
// sizes, within each kind (a kind's mean is no part of it), pooled over
// the kinds. A slope of 1 says the sizes tell each task's duration but
// for its kind's; 0 says they tell nothing. It is the factor by which an
// estimate made from a noisy measure is best drawn towards the mean
// (regression to the mean): with sizes s and durations d, a size counts
// as s^slope.
//
// Before the run has seen enough, the slope leans on what the run before
// saw of its own sizes (a SizeFit), and on a prior: priorSlope, weighed
// as priorWeight of the sum of squared log sizes (about a dozen tasks
// whose sizes are a third off their kind's mean).
const (
	priorSlope  = 0.5
	priorWeight = 1.0
	// sureSlope is the least slope at which a running task of known
	// size is expected to end when its size says (TaskSizes.Sure): its
	// size then tells more of it than its kind's spread.
	sureSlope = 0.5
	// maxFitWeight bounds what a SizeFit weighs in the next run: as
	// much as about a hundred tasks a third off their kind's mean, so
	// that the run's own tasks soon weigh as much.
	maxFitWeight = 8.0
)

// A SizeFit is how much of a flow's sizes showed in one run: the sums
// of the products, about each kind's means, of the log of its tasks'
// sizes and of what they took (XY), and of the squared log sizes (XX),
// pooled over the kinds (see TaskSizes.Fit). It is plain data, kept in
// the flow's history: the next run's slope starts from it.
type SizeFit struct {
	XY float64 `json:"xy"`
	XX float64 `json:"xx"`
}

// Validate reports a SizeFit that is not finite, or whose XX is
// negative.
func (f SizeFit) Validate() error {
	if math.IsNaN(f.XY) || math.IsInf(f.XY, 0) || math.IsNaN(f.XX) || math.IsInf(f.XX, 0) || f.XX < 0 {
		return fmt.Errorf("size fit %+v: must be finite, xx not negative", f)
	}
	return nil
}

// capped returns f weighed at most maxFitWeight: its sums scaled alike,
// its slope kept.
func (f SizeFit) capped() SizeFit {
	if f.XX <= maxFitWeight {
		return f
	}
	return SizeFit{XY: f.XY * maxFitWeight / f.XX, XX: maxFitWeight}
}

// A sizeFit is the sums of one kind's finished tasks of known size: x the
// log of a task's size, y the log of what it took, in seconds.
type sizeFit struct {
	n, sx, sy, sxy, sxx float64
}

// within returns the kind's sums of xy and xx about their means.
func (f *sizeFit) within() (sxy, sxx float64) {
	if f.n < 2 {
		return 0, 0
	}
	return f.sxy - f.sx*f.sy/f.n, f.sxx - f.sx*f.sx/f.n
}

// sizeFits is the fit of every kind, and their sums about each kind's
// means, pooled; from is what the run before saw (see SizeFit).
type sizeFits struct {
	kinds    map[string]*sizeFit
	sxy, sxx float64
	from     SizeFit
}

// add counts a finished task of kind whose size was size and that took
// took seconds.
func (f *sizeFits) add(kind string, size, took float64) {
	if size <= 0 || took <= 0 {
		return
	}
	if f.kinds == nil {
		f.kinds = make(map[string]*sizeFit)
	}
	k := f.kinds[kind]
	if k == nil {
		k = &sizeFit{}
		f.kinds[kind] = k
	}
	oxy, oxx := k.within()
	x, y := math.Log(size), math.Log(took)
	k.n++
	k.sx += x
	k.sy += y
	k.sxy += x * y
	k.sxx += x * x
	nxy, nxx := k.within()
	f.sxy += nxy - oxy
	f.sxx += nxx - oxx
}

// slope returns how much of a task's size shows in what it takes: the
// pooled slope, what the run before saw added, drawn towards priorSlope
// by priorWeight, within [0, 1].
func (f *sizeFits) slope() float64 {
	xy, xx := f.sxy+f.from.XY, max(f.sxx, 0)+f.from.XX
	return min(max((xy+priorSlope*priorWeight)/(xx+priorWeight), 0), 1)
}

// fit returns what the run saw, for the next (see SizeFit): its pooled
// sums, weighed at most maxFitWeight; the run before's when it saw
// nothing.
func (f *sizeFits) fit() SizeFit {
	if f.sxx <= 0 {
		return f.from
	}
	return SizeFit{XY: f.sxy, XX: f.sxx}.capped()
}
