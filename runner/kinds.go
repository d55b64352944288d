package runner

import (
	"time"

	"github.com/ebbflow/ebb"
)

// A kind is the tasks of one ebb.Task.KindName: their duration hint and
// when each of them that runs was started. Its fields are guarded by the
// Eval's mutex.
type kind struct {
	name    string
	hint    time.Duration // the longest Estimate of its tasks
	running map[int32]time.Time
}

// kindsOf interns the kinds of the flow's tasks: it returns each task's
// kind index and the kinds.
func kindsOf(tasks []ebb.Task) ([]int32, []*kind) {
	of := make([]int32, len(tasks))
	index := map[string]int32{}
	var kinds []*kind
	for i := range tasks {
		name := tasks[i].KindName()
		k, ok := index[name]
		if !ok {
			k = int32(len(kinds))
			index[name] = k
			kinds = append(kinds, &kind{name: name, running: map[int32]time.Time{}})
		}
		kinds[k].hint = max(kinds[k].hint, tasks[i].Estimate)
		of[i] = k
	}
	return of, kinds
}

// started records that task t was handed to an alloc now. e.mu is held.
func (e *Eval) started(t int32, now time.Time) {
	e.kinds[e.kindOf[t]].running[t] = now
}

// stopped records that task t runs no more. e.mu is held.
func (e *Eval) stopped(t int32) {
	delete(e.kinds[e.kindOf[t]].running, t)
}

// estimate returns how long a task of kind k that has not started is
// expected to run (stealer.Durations.Estimate over the kind's finished
// tasks and the ages of those running), or 0 when nothing is known. e.mu
// is held.
func (e *Eval) estimate(k int32, now time.Time) time.Duration {
	kd := e.kinds[k]
	ages := make([]time.Duration, 0, len(kd.running))
	for _, at := range kd.running {
		ages = append(ages, now.Sub(at))
	}
	d, _ := e.durations.Estimate(kd.name, ages, kd.hint)
	return d
}

// shapeDuration returns the mean estimate of the ready tasks of s, by
// kind, or 0 when a kind among them has none. e.mu is held.
func (e *Eval) shapeDuration(s *shape, now time.Time) time.Duration {
	var sum time.Duration
	n := 0
	for k, c := range s.kinds {
		if c <= 0 {
			continue
		}
		d := e.estimate(k, now)
		if d <= 0 {
			return 0
		}
		sum += d * time.Duration(c)
		n += c
	}
	if n == 0 {
		return 0
	}
	return sum / time.Duration(n)
}
