package stealer

import (
	"time"

	"github.com/ebbflow/ebb"
)

// A RequestID names one Allocate call a Stealer has in flight. IDs are
// unique within one Run ("r1", "r2", ...) and never reused.
type RequestID string

// A Snapshot is what a [Policy] decides from: plain data, taken at one
// moment by a Stealer (or built by a simulator), owned by the policy for
// the length of one Plan call. A policy must not modify it.
//
// The zero Snapshot is valid: no demand, nothing held, nothing in flight.
type Snapshot struct {
	// Now is the moment the snapshot was taken. Policies read the time
	// from here and never from the clock.
	Now time.Time

	// Tick is the longest the policy waits before it is asked again (a
	// Stealer's Config.Tick; it asks sooner when something changes);
	// zero when unknown. A plan that holds costs at most that long.
	Tick time.Duration

	// Demand is the ready work that no working alloc can place, largest
	// shapes first, as [Evaluator.Demand] reports it: it is already net of
	// the Free capacity of every alloc that works for the evaluation and
	// is not draining (Held entries with Working set, and Others). It is
	// not net of Held allocs that are not Working yet, nor of Pending
	// requests: placing demand on those is the policy's job.
	Demand []ebb.Demand

	// Held lists the auxiliary allocs the stealer holds: granted, and not
	// yet freed. Only these may be drained.
	Held []Held

	// Others lists the allocs that work for the evaluation but that the
	// stealer does not hold (the run's primary, another stealer's allocs).
	// Their capacity drains the backlog like the stealer's own, but a
	// plan never drains them.
	Others []Held

	// Pending lists the requests in flight: asked for and neither
	// granted, failed nor cancelled. Oldest first.
	Pending []Pending

	// Latency holds recently observed allocation latencies (from the
	// Allocate call to the grant), oldest first. Empty until the first
	// grant. A Stealer keeps the last 32.
	Latency []time.Duration

	// Cancelled holds how long recent requests had waited when they
	// were cancelled, never granted, oldest first: each says that its
	// allocation would have taken longer than that (a censored
	// latency). A Stealer keeps the last 32.
	Cancelled []time.Duration

	// TaskDuration is how long a task typically runs, when the evaluator
	// knows (see [DurationEstimator]) or a simulator does; zero when
	// unknown, and then a policy falls back on its own guess.
	TaskDuration time.Duration

	// Nodes lists the most one alloc of the cluster can hold, kind of
	// node by kind of node, when the cluster says (see [Sizer]); nil
	// when it does not. A request wider than every node is cut down to
	// what one holds.
	Nodes []ebb.Resources

	// Remaining is how much longer, on average, the tasks running on the
	// evaluation's allocs are expected to run, when the evaluator knows
	// (see [RemainingEstimator]); zero when it does not or none runs.
	// Before any task has finished (TaskDuration zero) it is only half
	// the running tasks' mean age, and the default policy reads it so:
	// zero says they have just begun.
	Remaining time.Duration

	// Upcoming is the work that waits only on running and ready tasks,
	// and on the waves before it, when the evaluator can tell (see
	// [UpcomingEstimator] and Durations.NextWave): the next waves of a
	// flow, which a policy may keep idle allocs for, or buy ahead of.
	Upcoming []Upcoming

	// Critical is how long the flow's longest chains are, from its
	// running tasks, its ready ones and its next wave, when the
	// evaluator can tell (see [CriticalEstimator] and
	// Durations.Critical); the zero value when it cannot. Its Packed
	// schedules the work left on HeldCPU's cpus.
	Critical Critical

	// Recent lists the stealer's recent acquisitions and releases, in no
	// particular order, so that a policy can tell when it buys back what
	// it just gave up. A Stealer keeps the last 256.
	Recent []Change
}

// Held is one alloc in a [Snapshot]: what it holds and what it does.
type Held struct {
	ID string
	// Resources is what the alloc holds. Free is what its running work
	// leaves of it, and Busy is Resources − Free.
	Resources, Free, Busy ebb.Resources
	// Running counts the tasks it runs.
	Running int
	// IdleSince is when it last ran nothing; zero while it runs tasks.
	// For an alloc not Working yet it is Since.
	IdleSince time.Time
	// Draining is set once the alloc was told to take no new work.
	Draining bool
	// Working is set when the alloc works for the evaluation (it is in
	// [Evaluator.Load]), so that Demand is already net of its Free. A
	// freshly granted alloc is held but not Working for a moment, and
	// then Free is all of Resources.
	Working bool
	// Since is when the alloc was acquired (granted, or taken over);
	// zero in Snapshot.Others.
	Since time.Time
}

// Pending is one request in flight in a [Snapshot].
type Pending struct {
	ID RequestID
	// Requirements is what was asked for: at least Min, up to Max.
	Requirements ebb.Requirements
	// Since is when it was asked for.
	Since time.Time
	// For is the demand the request was made for, as its plan said.
	For []ebb.Demand
}

// HeldCPU returns the cpus of the capacity held, the allocs in Held and
// Others that are not draining, and how many of them are busy: what the
// work left runs on if nothing is bought (see Critical.Packed).
func (s Snapshot) HeldCPU() (held, busy float64) {
	for _, hs := range [][]Held{s.Held, s.Others} {
		for _, h := range hs {
			if c := h.HeldCPU(); c > 0 {
				held += c
				busy += h.Busy[ebb.CPU]
			}
		}
	}
	return held, busy
}

// HeldCPU returns the cpus h adds to the capacity held (see
// Snapshot.HeldCPU): its cpus, unless it is draining.
func (h Held) HeldCPU() float64 {
	if h.Draining {
		return 0
	}
	return h.Resources[ebb.CPU]
}

// ChangeKind says whether a [Change] acquired or released capacity.
type ChangeKind uint8

const (
	// Acquired: an alloc was granted. Its Change's Time is when it was
	// asked for, the moment the decision to buy was made.
	Acquired ChangeKind = iota + 1
	// Released: an alloc was freed (or lost). Its Change's Time is when.
	Released
)

func (k ChangeKind) String() string {
	switch k {
	case Acquired:
		return "acquired"
	case Released:
		return "released"
	}
	return "unknown"
}

// A Change is one acquisition or release of an auxiliary alloc.
type Change struct {
	Time      time.Time
	Kind      ChangeKind
	Resources ebb.Resources
	// Asked, for an acquisition, is the Max of the request it granted:
	// a grant smaller than what it asked for shows how the cluster cuts
	// requests down.
	Asked ebb.Resources
}
