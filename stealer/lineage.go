package stealer

import "time"

// maxScale bounds what a lineage says of the tasks behind it (see
// Lineage.Scale): twice as long as their kinds' estimates at most, or
// half as long.
const maxScale = 2

// A Lineage is what the finished tasks that lead to a task took against
// what they were expected to take when each finished (their kinds'
// estimates times their sizes, see Sizes), in seconds.
// The tasks of one chain of a flow often scale together: a sample twice
// the size of the others takes about twice as long at each step of the
// pipeline that processes it, so that the chain through it, which sets
// when the flow can end, is longer than its kinds' means say. A Lineage
// carries that from each step to the next (see Pass), and Scale says how
// much longer than their estimates the tasks behind it are expected to
// run.
//
// The zero value knows nothing (Scale 1). A Lineage is a plain value;
// an evaluation keeps one per task (runner.Eval and the simulator alike),
// and Wave.Scale reads it.
type Lineage struct {
	Took, Expected float32
}

// Pass returns l with the share of a finished dependency added: from,
// that dependency's own lineage, and its run, which took took where its
// kind was expected to take expected (zero when nothing was known of
// the kind: the run then says nothing), split evenly among the deps
// dependencies that the task behind waits on, so that a task that joins
// many chains weighs them alike and no path is counted twice.
func (l Lineage) Pass(from Lineage, took, expected time.Duration, deps int) Lineage {
	if deps < 1 {
		deps = 1
	}
	t, e := from.Took, from.Expected
	if expected > 0 {
		t += float32(took.Seconds())
		e += float32(expected.Seconds())
	}
	l.Took += t / float32(deps)
	l.Expected += e / float32(deps)
	return l
}

// Scale returns how much longer than their kinds' estimates the tasks
// behind l are expected to run: what the tasks that lead to them took
// over what they were expected to take, within [1/maxScale, maxScale];
// 1 when nothing is known.
func (l Lineage) Scale() float64 {
	if l.Expected <= 0 {
		return 1
	}
	return min(max(float64(l.Took)/float64(l.Expected), 1.0/maxScale), maxScale)
}
