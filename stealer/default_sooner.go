package stealer

import (
	"fmt"
	"slices"
	"time"
)

// The default policy's step 5, last part: a purchase that cannot end the
// flow sooner, because the longest chain through a running task ends
// after the backlog runs out on held capacity, is not made.

// notSooner is step 5's last word: when the longest chain through a
// running task ends after the backlog would run out on held capacity
// (see runningChainLonger), b buys only what held capacity cannot run at
// all, and its reason says why.
func notSooner(s Snapshot, b purchase) purchase {
	if len(b.buy) == 0 {
		return b
	}
	why, ok := runningChainLonger(s, b.drainSecs)
	if !ok {
		return b
	}
	b.buy = slices.DeleteFunc(slices.Clone(b.buy), func(g group) bool { return b.runnable[g.shape.String()] })
	b.why += why
	return b
}

// runningChainLonger reports whether a purchase cannot end the flow
// sooner: the longest chain through a running task (Snapshot.Critical.End)
// ends after every chain that the backlog starts (Critical.Chains) would
// end, the backlog started on held capacity within drainSecs, and after
// held capacity has run all the work left (Critical.Work over its cpus,
// once its running tasks are done, in Snapshot.Remaining), and after
// held capacity has run it list-scheduled (Critical.Packed, when known):
// chains say how deep the flow is, work how wide, and the schedule both,
// a stage that fans out behind a running task and joins again included.
// A chain starts when it can (In) and the backlog has started; but when
// ready tasks start longest chain first (Critical.Ranked), a chain
// behind a running task starts as soon as it can, in the slot of the
// task it waits on, ahead of the backlog: it is longer than any chain a
// ready task heads (Chains lists none that a chain starting no later
// makes moot), and the longer ones listed after it are not ready yet.
// It holds only once task durations are known (Snapshot.TaskDuration):
// before any task has finished, every chain is a guess. It returns the
// reason's tail.
func runningChainLonger(s Snapshot, drainSecs float64) (string, bool) {
	c := s.Critical
	if s.TaskDuration <= 0 || c.End <= 0 {
		return "", false
	}
	drain := time.Duration(min(drainSecs, maxSecs) * float64(time.Second))
	ends := drain
	for _, ch := range c.Chains {
		start := max(ch.In, drain)
		if c.Ranked && ch.In > 0 {
			start = ch.In
		}
		ends = max(ends, start+ch.Length)
	}
	area, ok := workLeft(s)
	if !ok || ends > c.End || area > c.End || c.Packed > c.End {
		return "", false
	}
	return fmt.Sprintf("; its chains end within %s and held capacity runs all the work left in %s, the longest running chain ends in %s: buying ends nothing sooner",
		fmtDur(ends), fmtDur(area), fmtDur(c.End)), true
}

// workLeft returns how long held capacity takes to run all the work left
// (Snapshot.Critical.Work over its cpus, once its running tasks are done,
// in Snapshot.Remaining), or false when the snapshot does not say.
func workLeft(s Snapshot) (time.Duration, bool) {
	if s.Critical.End <= 0 {
		return 0, false
	}
	held, busy := s.HeldCPU()
	if held <= 0 {
		return 0, false
	}
	return time.Duration((s.Critical.Work.Seconds() + busy*s.Remaining.Seconds()) / held * float64(time.Second)), true
}
