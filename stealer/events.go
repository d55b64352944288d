package stealer

import (
	"context"
	"log/slog"
	"time"

	"github.com/ebbflow/ebb"
)

// EventKind says what an [Event] reports.
type EventKind uint8

// The kinds of events. Every decision of the policy becomes one event
// (Requested, Cancelled, Drained, Kept, Hold), and so does every outcome
// the stealer sees (Granted, Failed, Lost, Released) and every part of a
// plan it refused (Rejected).
const (
	// EventRequested: an Allocate call started. RequestID and Resources
	// (the request's Max) are set; Reason is the policy's.
	EventRequested EventKind = iota + 1
	// EventGranted: a request was granted. RequestID, AllocID and
	// Resources (what the alloc holds) are set.
	EventGranted
	// EventFailed: an Allocate call failed; the stealer asks for nothing
	// new until its backoff has passed. Err is set.
	EventFailed
	// EventCancelled: a request in flight was given up. Reason is the
	// policy's.
	EventCancelled
	// EventDrained: an alloc was told to take no new work. Reason is the
	// policy's.
	EventDrained
	// EventLost: an alloc was lost (its lease lapsed, its node died). Its
	// running tasks go back to the evaluation. Err is set.
	EventLost
	// EventReleased: an alloc's work returned and the alloc was freed (or,
	// if Free failed, Err says so and its lease lapses on its own).
	EventReleased
	// EventHold: the policy bought nothing (more) for the demand it saw,
	// and Reason says why. It is reported when the policy starts holding
	// and whenever the demand it holds for changes, not at every tick.
	EventHold
	// EventRejected: the stealer refused part of a plan, or a cancel
	// came too late; Reason says what and why.
	EventRejected
	// EventKept: the policy keeps an alloc that has been idle past its
	// idle timeout (Plan.Keep), and Reason says why. It is reported when
	// the alloc starts being kept, and when the reason changes, not at
	// every tick.
	EventKept
)

func (k EventKind) String() string {
	switch k {
	case EventRequested:
		return "requested"
	case EventGranted:
		return "granted"
	case EventFailed:
		return "failed"
	case EventCancelled:
		return "cancelled"
	case EventDrained:
		return "drained"
	case EventLost:
		return "lost"
	case EventReleased:
		return "released"
	case EventHold:
		return "hold"
	case EventRejected:
		return "rejected"
	case EventKept:
		return "kept"
	}
	return "unknown"
}

// An Event is one decision or outcome of a Stealer, with its reason. The
// receiver owns it (Resources is a fresh map).
type Event struct {
	Time      time.Time
	Kind      EventKind
	AllocID   string    // when an alloc is concerned
	RequestID RequestID // when a request is concerned
	// Resources is what the event is about: a request's Max, what an
	// alloc holds.
	Resources ebb.Resources
	// Reason is a sentence for people: "requested 8 cpu, 16.0 GiB mem for
	// 8 waiting tasks: ...", "drained alloc a3: idle 1m0s".
	Reason string
	// Err is the error behind a Failed, Lost or Released event, if any:
	// for Released, the error of a Free that failed, and that of a Work
	// that failed (neither drained nor lost nor ended with the run).
	Err error
}

func (e Event) level() slog.Level {
	switch e.Kind {
	case EventFailed, EventLost:
		return slog.LevelWarn
	case EventRejected:
		return slog.LevelWarn
	case EventReleased:
		if e.Err != nil {
			return slog.LevelWarn
		}
	}
	return slog.LevelInfo
}

// log writes e as one record.
func (e Event) log(ctx context.Context, l *slog.Logger) {
	level := e.level()
	if !l.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 5)
	if e.RequestID != "" {
		attrs = append(attrs, slog.String("request", string(e.RequestID)))
	}
	if e.AllocID != "" {
		attrs = append(attrs, slog.String("alloc", e.AllocID))
	}
	if len(e.Resources) > 0 {
		attrs = append(attrs, slog.String("resources", e.Resources.String()))
	}
	attrs = append(attrs, slog.String("reason", e.Reason))
	if e.Err != nil {
		attrs = append(attrs, slog.Any("err", e.Err))
	}
	l.LogAttrs(ctx, level, "stealer "+e.Kind.String(), attrs...)
}
