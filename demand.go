package ebb

import "time"

// A Demand is ready work that nothing held can place: Count tasks that
// each need Resources. An evaluation reports its demand as a snapshot,
// largest shapes first, and stealers turn it into auxiliary allocs.
type Demand struct {
	Resources Resources `json:"resources"`
	Count     int       `json:"count"`
	// Duration is how long one of these tasks is expected to run (the
	// mean of their kinds' estimates), or 0 when the evaluation does not
	// know. AtLeast says it is only a lower bound: no task of some kind
	// among them has finished yet, and those running have run this long;
	// a Duration of 0 with AtLeast says they have just begun.
	Duration time.Duration `json:"duration,omitempty"`
	AtLeast  bool          `json:"at_least,omitempty"`
}

// Total returns what the demand needs in all: Resources × Count.
func (d Demand) Total() Resources { return d.Resources.Scale(float64(d.Count)) }

// AllocLoad is what one alloc working for an evaluation is doing: the
// supply beside Demand. An evaluation reports it per alloc, and stealers
// read it to decide what to drain and how fast the backlog drains.
type AllocLoad struct {
	ID string
	// Resources is what the alloc holds; Free is what its running work
	// leaves of it.
	Resources, Free Resources
	// Running counts the tasks it runs.
	Running int
	// IdleSince is when it last ran nothing; zero while it runs tasks.
	IdleSince time.Time
	// Draining is set once the alloc was told to take no new work.
	Draining bool
}
