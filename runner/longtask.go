package runner

import (
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/placement"
)

// longTasks returns placeReady's pick for a placement on bins (of workers
// ws) at now: once the ranks are times (every kind's duration known, see
// Eval.ranksTimed), a shape's next task whose best fit is an auxiliary
// alloc it would keep alive alone goes to the primary or waits for it,
// as placement.Decide says; nil otherwise. It reads the bins as they are
// when it is called, so the ready cpus placed meanwhile count out. e.mu
// is held while it runs.
func (e *Eval) longTasks(ws []*worker, bins []bin, now time.Time) func(s *shape, b int) int {
	if !e.ranksTimed {
		return nil
	}
	// The ready cpus left are those ready now less those placed since,
	// which the bins' free cpus lost.
	var readyCPU, free0 float64
	for _, s := range e.ready.shapes {
		readyCPU += float64(s.len()) * s.res[ebb.CPU]
	}
	primary := -1
	var pw *worker
	for i, w := range ws {
		free0 += bins[i].free[ebb.CPU]
		if w.primary {
			primary = i
		}
	}
	for _, w := range e.workers {
		if w.primary {
			pw = w
		}
	}
	return func(s *shape, b int) int {
		if ws[b].primary {
			return b
		}
		c := placement.Case{ReadyCPU: readyCPU, PrimaryFrees: -1}
		var free float64
		for i := range bins {
			free += bins[i].free[ebb.CPU]
			if !ws[i].primary {
				c.FreeAuxCPU += bins[i].free[ebb.CPU]
			}
		}
		c.ReadyCPU -= free0 - free
		t := s.q.Peek()
		c.Run = e.taskRun(t)
		if primary >= 0 {
			c.PrimaryRoom = bins[primary].execs > 0 && !bins[primary].reserved && s.fits(bins[primary].free)
		}
		if !placement.Weighs(c) {
			return b
		}
		if since, ok := e.waitSince[t]; ok {
			c.Waited = now.Sub(since)
		}
		if pw != nil {
			c.PrimaryHolds = s.fits(pw.alloc.Resources())
		}
		for _, kd := range e.kinds {
			for _, r := range kd.running {
				left := e.sizes.Remaining(&e.durations, r.t, kd.name, now.Sub(r.at), kd.hint)
				c.Longest = max(c.Longest, left, e.taskRun(r.t))
				if r.w == ws[b] {
					c.AuxBusy = max(c.AuxBusy, left)
				} else if r.w != nil && r.w.primary && (c.PrimaryFrees < 0 || left < c.PrimaryFrees) {
					c.PrimaryFrees = left
				}
			}
		}
		switch placement.Decide(c) {
		case placement.OnPrimary:
			return primary
		case placement.Wait:
			return -1
		}
		return b
	}
}

// waitsForPrimary records that ready task t waits for the primary since
// now, unless it did already, and logs it the first time. e.mu is held.
func (e *Eval) waitsForPrimary(t int32, now time.Time) {
	if _, ok := e.waitSince[t]; ok {
		return
	}
	if e.waitSince == nil {
		e.waitSince = map[int32]time.Time{}
	}
	e.waitSince[t] = now
	run := e.taskRun(t)
	e.cfg.Logger.Debug("task waits for a slot on the primary rather than keep an auxiliary alloc alive alone",
		"task", e.g.Flow.Tasks[t].Name, "expected", run.Round(time.Second), "at_most", (run / placement.WaitShare).Round(time.Second))
}

// taskRun returns how long task t is expected to run: its kind's weight
// in the ranks times its size (0 before they are computed). e.mu is held.
func (e *Eval) taskRun(t int32) time.Duration {
	if k := e.kindOf[t]; int(k) < len(e.kindRun) {
		return time.Duration(e.kindRun[k] * e.sizes.Of(t) * float64(time.Second))
	}
	return 0
}

// waitOver reports whether a task that waits for the primary has waited
// as long as it may (placement.WaitOver). e.mu is held.
func (e *Eval) waitOver(now time.Time) bool {
	for t, since := range e.waitSince {
		if placement.WaitOver(e.taskRun(t), now.Sub(since)) {
			return true
		}
	}
	return false
}
