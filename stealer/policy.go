package stealer

import "github.com/ebbflow/ebb"

// A Policy decides how a stealer sizes its share of the cluster: given a
// [Snapshot], it returns a [Plan] of allocs to ask for, requests to cancel
// and allocs to drain.
//
// Plan must be a pure function of its snapshot: no clock reads (the time is
// Snapshot.Now), no randomness, no I/O, and no change to the snapshot. The
// same snapshot gets the same plan, so that the simulator (package sim)
// measures a policy exactly as it runs in production. A policy may keep
// configuration but no state that Plan changes; what it must remember
// (latencies, recent releases) comes back in the next snapshot. Plan must
// not panic and must return quickly: a Stealer calls it from its loop at
// every tick, and never concurrently. Package policytest checks a policy's
// plans against the invariants every plan must keep.
type Policy interface {
	Plan(s Snapshot) Plan
}

// PolicyFunc adapts a function to a [Policy].
type PolicyFunc func(Snapshot) Plan

// Plan calls f(s).
func (f PolicyFunc) Plan(s Snapshot) Plan { return f(s) }

// A Plan is what a [Policy] decided, each item with a reason a person can
// read. The zero Plan changes nothing.
//
// A Stealer applies a plan in order: cancels, then drains, then acquires.
// It skips, and reports as an [EventRejected] event, whatever it cannot do:
// a cancel of a request already granted or unknown, a drain of an alloc it
// does not hold or that does not work yet, an invalid request, a request
// beyond [Config.MaxPending].
type Plan struct {
	// Acquire lists allocs to ask the cluster for, most needed first.
	Acquire []Request
	// Cancel lists requests in flight to give up.
	Cancel []Cancel
	// Drain lists held allocs that should take no new work, so that they
	// are freed once what they run has finished.
	Drain []Drain
	// Keep lists held allocs that the policy would drain for their idle
	// time but keeps, each with why: "kept alloc a3: work due within an
	// allocation's latency would start on it". It changes nothing; a
	// Stealer reports each as an [EventKept] when the alloc starts being
	// kept and when the reason changes, so a reason should hold no
	// figure that moves at every tick.
	Keep []Keep
	// Hold, when set, says why the policy bought nothing (more) for the
	// demand it saw: "held: backlog drains in 4s on held capacity,
	// allocation takes 30s".
	Hold string
}

// A Request asks for one alloc.
type Request struct {
	// Requirements is what to ask the cluster for: at least Min, and up
	// to Max = Min × Width.
	Requirements ebb.Requirements
	// For is the demand the request is meant to serve; it travels with
	// the request into later snapshots (Pending.For).
	For []ebb.Demand
	// Reason says why, as in "requested 8 cpu, 16.0 GiB mem for 8
	// waiting tasks: backlog drains in 4m0s on held capacity, allocation
	// takes 30s".
	Reason string
}

// A Cancel gives up a request in flight.
type Cancel struct {
	ID     RequestID
	Reason string
}

// A Keep says why a policy keeps a held alloc that has been idle past
// its idle timeout.
type Keep struct {
	AllocID string
	Reason  string
}

// A Drain tells a held alloc to take no new work. It never stops what the
// alloc runs: the alloc is freed only once its work has returned.
type Drain struct {
	AllocID string
	Reason  string
}
