package cluster

import (
	"maps"
	"slices"
	"time"
)

// ElasticStatus is a snapshot of an Elastic's workers, launches and waiting
// requests, for people and tests to read.
type ElasticStatus struct {
	// Workers are the workers held, by ID.
	Workers []WorkerStatus
	// Launching are the launches in flight, in the order they started.
	Launching []LaunchStatus
	// Waiting counts the Allocate calls waiting for capacity.
	Waiting int
	// Blocked maps each shape backed off after failed launches to when
	// it may be launched again, or to the zero time when the provider
	// refused it for good.
	Blocked map[string]time.Time
}

// WorkerStatus describes a worker an Elastic holds.
type WorkerStatus struct {
	ID    WorkerID
	Shape string
	// Adopted is set for a worker listed by the provider when Run started.
	Adopted bool
	// Terminating is set once the worker takes no new allocs.
	Terminating bool
	// LastBusy is when it was last seen holding an alloc, or came up.
	LastBusy time.Time
}

// LaunchStatus describes a launch in flight.
type LaunchStatus struct {
	Shape string
	// Claims counts the waiting requests it will serve.
	Claims int
}

// Status returns a snapshot of e. The caller owns it.
func (e *Elastic) Status() ElasticStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := ElasticStatus{Waiting: len(e.requests), Blocked: make(map[string]time.Time)}
	ids := slices.SortedFunc(maps.Keys(e.workers), compareIDs)
	for _, id := range ids {
		w := e.workers[id]
		st.Workers = append(st.Workers, WorkerStatus{ID: id, Shape: w.Shape.Name, Adopted: w.adopted, Terminating: w.terminating, LastBusy: w.lastBusy})
	}
	for _, l := range e.launchesLocked() {
		st.Launching = append(st.Launching, LaunchStatus{Shape: l.shape.Name, Claims: len(l.claims)})
	}
	now := time.Now()
	for name, s := range e.shapeAt {
		switch {
		case s.disabled != nil:
			st.Blocked[name] = time.Time{}
		case s.until.After(now):
			st.Blocked[name] = s.until
		}
	}
	return st
}
