package sim

import (
	"math/bits"
	"time"

	"github.com/ebbflow/ebb/internal/placement"
)

// longTask decides where ready task i, the next of its shape, goes when
// its best fit is the auxiliary alloc a, as runner.Eval's placement does
// (placement.Decide): a task that would keep a alive alone goes to the
// primary, or waits for it. Durations are what is known (its kind's
// weight in the ranks, Durations.Remaining for the running tasks), never
// the true ones.
func (e *engine) longTask(i int32, a *alloc) placement.Choice {
	t := &e.tasks[i]
	c := placement.Case{
		Run:          e.taskRun(i),
		PrimaryRoom:  !e.primary.reserved && !e.free.reservedTop(e.primary) && fits(t.shape.vec, e.primary.free),
		PrimaryHolds: fits(t.shape.vec, e.primary.res),
		PrimaryFrees: -1,
		ReadyCPU:     e.waitingCPU,
	}
	for _, h := range e.held {
		if !h.draining {
			c.FreeAuxCPU += e.sp.cpuOf(h.free)
		}
	}
	if !placement.Weighs(c) {
		return placement.OnAux
	}
	if since, ok := e.waitSince[i]; ok {
		c.Waited = e.now - since
	}
	for wd, word := range e.runningSet {
		for word != 0 {
			j := int32(wd*64 + bits.TrailingZeros64(word))
			word &= word - 1
			rt := &e.tasks[j]
			left := e.sizes.Remaining(&e.durs, j, e.kinds[e.kindOf[j]].name, e.now-e.startedAt[j], 0)
			c.Longest = max(c.Longest, left, e.taskRun(j))
			if rt.on == a {
				c.AuxBusy = max(c.AuxBusy, left)
			} else if rt.on == e.primary && (c.PrimaryFrees < 0 || left < c.PrimaryFrees) {
				c.PrimaryFrees = left
			}
		}
	}
	ch := placement.Decide(c)
	if ch == placement.Wait {
		if e.waitSince == nil {
			e.waitSince = map[int32]time.Duration{}
		}
		if _, ok := e.waitSince[i]; !ok {
			e.waitSince[i] = e.now
		}
	}
	return ch
}

// waitOver reports whether a task waiting for the primary has waited as
// long as it may (placement.WaitOver), so that the stealer's tick places
// again, as runner.Eval's Demand does.
func (e *engine) waitOver() bool {
	for i, since := range e.waitSince {
		if placement.WaitOver(e.taskRun(i), e.now-since) {
			return true
		}
	}
	return false
}

// taskRun returns how long task i is expected to run: its kind's weight
// in the ranks times its size.
func (e *engine) taskRun(i int32) time.Duration {
	return time.Duration(e.kindRun[e.kindOf[i]] * e.sizes.Of(i) * float64(time.Second))
}
