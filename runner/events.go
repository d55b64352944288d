package runner

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/stealer"
	"github.com/opencontainers/go-digest"
)

// EventKind says what happened to a task (or, for EventStealer, what the
// stealer decided).
type EventKind uint8

// The kinds of events. A task that runs once goes Queued → Started →
// Finished; one found in the cache has only Finished, with Cached set.
// Retried and Lost put the task back in the ready queue (no Queued
// follows them); its next try starts with Started again. When the eval
// fails, the tasks it stops get no further event. A run that is retried
// (its primary lost) evaluates the flow anew: its tasks are Queued again.
// Events come in the order they were published, and their Times never
// go backward, except a stealer or worker event's, which keeps its
// source's own.
//
// A try that ran and whose pool measured its staging (pool.Result's
// StageIn and StageOut) has StageIn and StageOut events before its
// Finished or Retried, in that order: Queued → Started → StageIn →
// StageOut → Finished. The pool reports them with the exec's result, so
// they are published when the exec has ended, with the staging's own
// times inside.
const (
	// EventQueued: the task is ready, its dependencies done, and waits
	// for an alloc.
	EventQueued EventKind = iota + 1
	// EventStarted: the task's exec was put on an alloc. AllocID, Pool
	// and Try are set.
	EventStarted
	// EventFinished: the task succeeded, or failed for good. ExitCode,
	// Error, Duration and Resources come from its Result; or Cached is
	// set and the task was not run at all.
	EventFinished
	// EventRetried: a try failed in a way that may pass (see
	// pool.Result.Transient) and the task goes back to the queue. Try is
	// the number of tries that failed so far.
	EventRetried
	// EventLost: the alloc the task ran on was lost, or stopped
	// answering; the task goes back to the queue, without counting a try.
	EventLost
	// EventTimedOut: the task ran past its Timeout and was killed; a
	// retried or finished event follows, as for any other failure.
	EventTimedOut
	// EventStealer: a decision or outcome of the run's stealer, in
	// Stealer. AllocID is the stealer event's.
	EventStealer
	// EventDropped: the subscriber fell behind and Dropped events were
	// lost at this point of the stream, since the one before.
	EventDropped
	// EventWorker: a worker of an elastic cluster was launched, came up,
	// failed to launch, was adopted, lost, stopped or kept, in Worker.
	// The runner does not make its clusters: their maker hands their
	// events to the bus (cluster.ElasticConfig.OnWorker: bus.Worker).
	EventWorker
	// EventStageIn: the try's inputs were placed in its directory before
	// it ran. Transfers has one per input (bytes, start, duration, and
	// where from: the pool's cache, a peer, the driver, a repository),
	// Bytes their sum and Duration from the first's start to the last's
	// end. AllocID, Pool and Try are set.
	EventStageIn
	// EventStageOut: the outputs of a try that succeeded were stored, as
	// EventStageIn says of inputs (where to: kept in the worker's cache,
	// the driver, a repository).
	EventStageOut
)

func (k EventKind) String() string {
	switch k {
	case EventQueued:
		return "queued"
	case EventStarted:
		return "started"
	case EventFinished:
		return "finished"
	case EventRetried:
		return "retried"
	case EventLost:
		return "lost"
	case EventTimedOut:
		return "timed_out"
	case EventStealer:
		return "stealer"
	case EventDropped:
		return "dropped"
	case EventWorker:
		return "worker"
	case EventStageIn:
		return "stage-in"
	case EventStageOut:
		return "stage-out"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// An Event is one thing that happened in a run. Which fields are set
// depends on Kind (see the kinds). Its maps and Stealer are shared with
// the other subscribers: read them, do not modify them.
type Event struct {
	Time    time.Time
	Kind    EventKind
	Task    string
	Digest  digest.Digest
	AllocID string
	Pool    string // the ID of the alloc's pool: the worker or engine behind it
	Try     int    // tries that failed before this one; for Retried, with this one

	ExitCode  int
	Error     string
	Duration  time.Duration // how long the exec ran, stage-in included; for StageIn and StageOut, how long the staging took
	Resources ebb.Resources // what the exec held
	Cached    bool          // Finished: found in the cache, not run

	// StageIn and StageOut events: what was staged, and its bytes.
	Transfers []pool.Transfer
	Bytes     int64
	// Finished and Retried: the outputs stored, as the StageOut event
	// before it says, so that a sink may show them after the exec's end.
	StageOut []pool.Transfer

	Dropped int // EventDropped: how many
	Stealer *stealer.Event
	Worker  *cluster.WorkerEvent
}

// An EventBus hands a run's events to its subscribers. Publishing never
// blocks: each Subscription has a bounded buffer, and a subscriber that
// lets its buffer fill loses the events that do not fit, and is told how
// many once it has caught up (EventDropped). A nil *EventBus publishes
// nothing and costs nothing. An EventBus is safe for concurrent use; one
// may serve several runs, whose events then interleave.
type EventBus struct {
	mu   sync.Mutex // guards subs; taken before a Subscription's
	subs map[*Subscription]struct{}
}

// NewEventBus returns an EventBus without subscribers.
func NewEventBus() *EventBus {
	return &EventBus{subs: map[*Subscription]struct{}{}}
}

// Subscribe returns a Subscription to every event published from now on,
// buffering up to size of them (default 1024 when size ≤ 0) until Next
// takes them. The caller Closes it when done.
func (b *EventBus) Subscribe(size int) *Subscription {
	if size <= 0 {
		size = 1024
	}
	s := &Subscription{bus: b, size: size, signal: make(chan struct{}, 1)}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// publish hands ev to every subscriber, stamping its Time if unset. It
// does not block; it may be called with other locks held.
func (b *EventBus) publish(ev Event) {
	if b == nil {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		s.put(ev)
	}
}

// A Subscription receives an EventBus's events, in the order they were
// published. It is safe for concurrent use, though one reader is the
// usual case.
type Subscription struct {
	bus    *EventBus
	size   int
	signal chan struct{} // holds a token when buf may have grown

	mu      sync.Mutex // guards the fields below
	buf     []Event    // oldest first, at most size
	dropped int        // lost since the last event kept
	closed  bool
}

// put adds ev to the buffer, or counts it as dropped when the buffer is
// full. Once events were dropped, the next one kept comes after an
// EventDropped that counts them, which takes a place in the buffer of its
// own: until both fit, events go on being counted (Next reports the count
// on its own once the buffer is empty).
func (s *Subscription) put(ev Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if s.dropped > 0 && len(s.buf)+2 <= s.size {
		s.buf = append(s.buf, s.droppedLocked(ev.Time))
	}
	if s.dropped > 0 || len(s.buf) == s.size {
		s.dropped++
	} else {
		s.buf = append(s.buf, ev)
	}
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

// droppedLocked returns the EventDropped for what was lost so far and
// starts counting anew. s.mu is held.
func (s *Subscription) droppedLocked(now time.Time) Event {
	ev := Event{Time: now, Kind: EventDropped, Dropped: s.dropped}
	s.dropped = 0
	return ev
}

// Next returns the oldest event not yet taken, waiting for one while
// there is none. Once the buffered events are taken, events lost to a
// full buffer are reported as one EventDropped. Next fails with ctx's
// error when ctx is done first, and with ebb.ErrClosed once the
// Subscription is closed and everything buffered has been taken.
func (s *Subscription) Next(ctx context.Context) (Event, error) {
	for {
		s.mu.Lock()
		switch {
		case len(s.buf) > 0:
			ev := s.buf[0]
			s.buf[0] = Event{}
			s.buf = s.buf[1:]
			if len(s.buf) == 0 {
				s.buf = nil // let the array go, and start afresh
			}
			s.mu.Unlock()
			return ev, nil
		case s.dropped > 0:
			ev := s.droppedLocked(time.Now())
			s.mu.Unlock()
			return ev, nil
		case s.closed:
			s.mu.Unlock()
			return Event{}, fmt.Errorf("event subscription: %w", ebb.ErrClosed)
		}
		s.mu.Unlock()
		select {
		case <-s.signal:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// Pending returns how many events Next would return now without waiting:
// those buffered, and one for the count of those dropped, if any.
func (s *Subscription) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.buf)
	if s.dropped > 0 {
		n++
	}
	return n
}

// Close ends the subscription: no event is added after it, and Next
// returns those still buffered, then fails with ebb.ErrClosed. Closing
// twice does nothing.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	delete(s.bus.subs, s)
	s.bus.mu.Unlock()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

// The Eval's hooks: one call at each point of a task's life. None blocks,
// and each costs a nil check when Events is not set.

// emitQueued reports task t pushed on the ready queue. e.mu is held.
func (e *Eval) emitQueued(t int32) {
	if e.cfg.Events == nil {
		return // without making the event
	}
	e.cfg.Events.publish(Event{Kind: EventQueued, Task: e.g.Flow.Tasks[t].Name, Digest: e.digests[t]})
}

// emitCached reports task t found in the cache.
func (e *Eval) emitCached(t int32) {
	if e.cfg.Events == nil {
		return
	}
	e.cfg.Events.publish(Event{Kind: EventFinished, Task: e.g.Flow.Tasks[t].Name, Digest: e.digests[t], Cached: true})
}

// emitStarted reports task t's exec put on a. e.mu is not held; it is
// taken to read the try count.
func (e *Eval) emitStarted(t int32, a pool.Alloc) {
	if e.cfg.Events == nil {
		return
	}
	e.mu.Lock()
	try := int(e.tasks[t].tries)
	e.mu.Unlock()
	e.cfg.Events.publish(Event{Kind: EventStarted, Task: e.g.Flow.Tasks[t].Name, Digest: e.digests[t],
		AllocID: a.ID(), Pool: a.Pool().ID(), Try: try})
}

// emitEnded reports how task t's try on w went: kind is Finished or Retried.
// e.mu is held.
// Finished and Retried come after the try's StageIn and StageOut.
func (e *Eval) emitEnded(kind EventKind, w *worker, t int32, res pool.Result) {
	if e.cfg.Events == nil {
		return
	}
	ev := Event{Task: e.g.Flow.Tasks[t].Name, Digest: e.digests[t],
		AllocID: w.alloc.ID(), Pool: w.alloc.Pool().ID(), Try: int(e.tasks[t].tries)}
	if kind == EventFinished || kind == EventRetried {
		for _, st := range []struct {
			kind EventKind
			ts   []pool.Transfer
		}{{EventStageIn, res.StageIn}, {EventStageOut, res.StageOut}} {
			if len(st.ts) == 0 {
				continue
			}
			sev := ev
			sev.Kind, sev.Transfers = st.kind, slices.Clone(st.ts)
			sev.Bytes, sev.Duration = pool.StagedBytes(st.ts)
			e.cfg.Events.publish(sev)
		}
		ev.StageOut = slices.Clone(res.StageOut)
	}
	ev.Kind, ev.ExitCode, ev.Error, ev.Duration, ev.Resources = kind, res.ExitCode, res.Error, res.Duration(), res.Resources.Clone()
	e.cfg.Events.publish(ev)
}

// emitLost reports task t requeued after w's alloc was lost or failed
// it. e.mu is held.
func (e *Eval) emitLost(w *worker, t int32, err error) {
	if e.cfg.Events == nil {
		return
	}
	e.cfg.Events.publish(Event{Kind: EventLost, Task: e.g.Flow.Tasks[t].Name, Digest: e.digests[t],
		AllocID: w.alloc.ID(), Pool: w.alloc.Pool().ID(), Try: int(e.tasks[t].tries), Error: err.Error()})
}

// stealerEvent forwards one of the stealer's events to the bus.
func (b *EventBus) stealerEvent(ev stealer.Event) {
	b.publish(Event{Time: ev.Time, Kind: EventStealer, AllocID: ev.AllocID, Stealer: &ev})
}

// Worker publishes an event of an elastic cluster's workers, as
// EventWorker; it never blocks, so it fits cluster.ElasticConfig.OnWorker
// as it is. A nil *EventBus drops it.
func (b *EventBus) Worker(ev cluster.WorkerEvent) {
	if b == nil {
		return
	}
	b.publish(Event{Time: ev.Time, Kind: EventWorker, Worker: &ev})
}
