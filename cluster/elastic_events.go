package cluster

import (
	"fmt"
	"time"

	"github.com/grailbio/base/status"
)

// WorkerEventKind says what happened to a worker of an [Elastic].
type WorkerEventKind uint8

// The kinds of worker events. A launched worker goes Launching → Up, or
// Launching → LaunchFailed; an adopted one starts with Adopted. A worker
// held ends with Stopping → Stopped, or Kept when the Elastic stops with
// KeepWorkers. Lost may come any time in between, once each time the
// worker stops answering.
const (
	// WorkerLaunching: a launch of Shape started, for Reason.
	WorkerLaunching WorkerEventKind = iota + 1
	// WorkerUp: the launch brought up Worker.
	WorkerUp
	// WorkerLaunchFailed: the launch failed with Err; the shape is
	// backed off (or dropped, when the provider can never provide it).
	WorkerLaunchFailed
	// WorkerAdopted: the provider listed Worker when Run started, and
	// the Elastic holds it as if it had launched it.
	WorkerAdopted
	// WorkerLost: Worker did not answer when asked for its allocs (Err);
	// it counts as idle from then on, and is stopped when its idle
	// time is up unless it answers again.
	WorkerLost
	// WorkerStopping: the Elastic is terminating Worker, for Reason
	// (idle, or Run's end); it takes no new allocs.
	WorkerStopping
	// WorkerStopped: Worker was terminated.
	WorkerStopped
	// WorkerKept: Run ended with KeepWorkers, and left Worker running
	// for the next Elastic over the provider to adopt.
	WorkerKept
)

func (k WorkerEventKind) String() string {
	switch k {
	case WorkerLaunching:
		return "launching"
	case WorkerUp:
		return "up"
	case WorkerLaunchFailed:
		return "launch_failed"
	case WorkerAdopted:
		return "adopted"
	case WorkerLost:
		return "lost"
	case WorkerStopping:
		return "stopping"
	case WorkerStopped:
		return "stopped"
	case WorkerKept:
		return "kept"
	}
	return fmt.Sprintf("WorkerEventKind(%d)", uint8(k))
}

// A WorkerEvent is one thing that happened to a worker of an Elastic, as
// ElasticConfig.OnWorker receives it.
type WorkerEvent struct {
	Time    time.Time
	Kind    WorkerEventKind
	Cluster string   // the Elastic's ID
	Worker  WorkerID // empty for Launching and LaunchFailed
	Shape   string   // the shape's name
	Launch  int      // numbers the launch, for Launching, Up and LaunchFailed
	Reason  string   // a sentence for people
	Err     error    // LaunchFailed, Lost: why
}

// String reads like "worker 4711 (small) up: launch 3 after 2.1s".
func (ev WorkerEvent) String() string {
	if ev.Worker == "" {
		return fmt.Sprintf("worker launch %d (%s) %s: %s", ev.Launch, ev.Shape, ev.Kind, ev.Reason)
	}
	return fmt.Sprintf("worker %s (%s) %s: %s", ev.Worker, ev.Shape, ev.Kind, ev.Reason)
}

// emit hands ev to OnWorker and shows the cluster's state in Status.
// e.mu must not be held.
func (e *Elastic) emit(ev WorkerEvent) {
	ev.Time = time.Now()
	ev.Cluster = e.cfg.ID
	if e.cfg.OnWorker != nil {
		e.cfg.OnWorker(ev)
	}
	e.report()
}

// emitAdopted reports the workers adopt took in.
func (e *Elastic) emitAdopted() {
	e.mu.Lock()
	var evs []WorkerEvent
	for _, w := range e.upLocked() {
		if w.adopted {
			evs = append(evs, WorkerEvent{Kind: WorkerAdopted, Worker: w.ID, Shape: w.Shape.Name, Reason: "listed by the provider when the cluster started"})
		}
	}
	e.mu.Unlock()
	for _, ev := range evs {
		e.emit(ev)
	}
}

// emitKept reports the workers that Run leaves running (KeepWorkers).
func (e *Elastic) emitKept() {
	e.mu.Lock()
	kept := e.upLocked()
	e.mu.Unlock()
	e.emitEach(WorkerKept, kept, nil, "left running for the next driver to adopt")
}

// emitEach reports an event of kind for each of ws whose errs entry is
// nil (all of them, without errs).
func (e *Elastic) emitEach(kind WorkerEventKind, ws []*worker, errs []error, reason string) {
	for i, w := range ws {
		if errs == nil || errs[i] == nil {
			e.emit(WorkerEvent{Kind: kind, Worker: w.ID, Shape: w.Shape.Name, Reason: reason})
		}
	}
}

// report sets Status's group status to the workers, launches and waiting
// requests now. e.mu must not be held.
func (e *Elastic) report() {
	if e.cfg.Status == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reportLocked()
}

// reportLocked is report with e.mu held. Status's locks are its own, and
// it does no I/O.
func (e *Elastic) reportLocked() {
	g := e.cfg.Status
	if g == nil {
		return
	}
	up, adopted, stopping := 0, 0, 0
	for _, w := range e.workers {
		switch {
		case w.terminating:
			stopping++
		case w.adopted:
			adopted++
			up++
		default:
			up++
		}
	}
	launching, waiting := len(e.launches), len(e.requests)
	text := fmt.Sprintf("%d up", up)
	if adopted > 0 {
		text += fmt.Sprintf(" (%d adopted)", adopted)
	}
	text += fmt.Sprintf(", %d launching", launching)
	if stopping > 0 {
		text += fmt.Sprintf(", %d stopping", stopping)
	}
	text += fmt.Sprintf(", %d allocs waiting", waiting)
	g.Print(text)
}

// showLocked shows r in Status while it waits: a task of the group, and
// the count of waiting requests. e.mu is held.
func (e *Elastic) showLocked(r *request) {
	if e.cfg.Status == nil {
		return
	}
	if r.shown == nil {
		r.shown = e.cfg.Status.Startf("allocate %s", r.want)
		r.shown.Print("waiting for a worker with room")
	}
	e.reportLocked()
}

// unshowLocked ends r's task in Status. e.mu is held.
func (e *Elastic) unshowLocked(r *request) {
	if r.shown == nil {
		return
	}
	r.shown.Done()
	r.shown = nil
	e.reportLocked()
}

// The status types, named here so that the Elastic's other files need
// no import of their own.
type (
	statusGroup = status.Group
	statusTask  = status.Task
)
