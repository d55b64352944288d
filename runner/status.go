package runner

import (
	"fmt"

	"github.com/grailbio/base/status"
)

// String reads like "tasks: 3 done, 1 cached, 2 running, 5 waiting": the
// run's progress line, as ebb run shows it. Ready tasks count as waiting.
func (p Progress) String() string {
	return fmt.Sprintf("tasks: %d done, %d cached, %d running, %d waiting", p.Done, p.Cached, p.Running, p.Ready+p.Waiting)
}

// The Eval's status reports (EvalConfig.Status): the group's status is the
// Progress, and each task placed on an alloc is a status task until its
// try ends. Each costs a nil check when Status is not set.

// reportLocked sets the group's status to the progress now. Every change
// of the counts comes with a broadcast, which calls it. e.mu is held.
func (e *Eval) reportLocked() {
	if e.cfg.Status == nil {
		return
	}
	e.cfg.Status.Print(e.progressLocked().String())
}

// reportPlaced starts a status task for task t, placed on alloc. e.mu is
// held.
func (e *Eval) reportPlaced(t int32, alloc string) {
	if e.cfg.Status == nil {
		return
	}
	if e.running == nil {
		e.running = make(map[int32]*status.Task)
	}
	st := e.cfg.Status.Start(e.g.Flow.Tasks[t].Name)
	st.Printf("on %s", alloc)
	e.running[t] = st
}

// reportStopped ends task t's status task. e.mu is held.
func (e *Eval) reportStopped(t int32) {
	if st := e.running[t]; st != nil {
		st.Done()
		delete(e.running, t)
	}
}
