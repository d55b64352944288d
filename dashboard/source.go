package dashboard

import (
	"fmt"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/runner"
)

// A Source is what a Dashboard learns a run from. Its methods must be
// safe for concurrent use; Status is called once every Interval, from
// the Dashboard's loop, and must not block for long.
type Source interface {
	// Flow returns the flow the run evaluates. It is read, never
	// modified, and must stay the same for the Source's life.
	Flow() *ebb.Flow
	// Subscribe subscribes to the run's events, as
	// runner.EventBus.Subscribe does.
	Subscribe(size int) *runner.Subscription
	// Status returns what the events do not say, as of now.
	Status() Status
}

// Status is a Source's report of a run at one moment. The Dashboard
// reads it and keeps none of its memory.
type Status struct {
	// State is the run's State: its phase, allocs, times and outcome.
	State runner.State
	// Progress are the task counts of the eval under way.
	Progress runner.Progress
	// Workers are the workers of the run's elastic cluster, if any.
	Workers []Worker
	// Launching are the launches of workers in flight, by shape name.
	Launching []string
	// Waiting counts the requests waiting for a worker.
	Waiting int
}

// A Worker is one worker of an elastic cluster.
type Worker struct {
	ID string
	// Engine is what runs it: "procs", "slurm", "kube", ...
	Engine string
	// Shape is the name of its shape.
	Shape       string
	Adopted     bool
	Terminating bool
	// LastBusy is when it last held an alloc, or came up.
	LastBusy time.Time
}

// An ElasticStatuser reports on an elastic cluster's workers: a
// *cluster.Elastic does.
type ElasticStatuser interface {
	Status() cluster.ElasticStatus
}

// RunSource is a Source over a runner.Runner. Make it with NewRunSource.
// Elastic, when set, is the run's auxiliary cluster, whose workers are
// shown; Engine names its provider ("procs", "slurm"). Set both before
// the Dashboard runs. A RunSource is safe for concurrent use.
type RunSource struct {
	Elastic ElasticStatuser
	Engine  string

	runner *runner.Runner
	flow   *ebb.Flow
	events *runner.EventBus
}

var _ Source = (*RunSource)(nil)

// NewRunSource returns a Source over r, which was made with cfg. It fails
// with an error wrapping ebb.ErrInvalid when r is nil, or cfg has no Flow
// or no Events bus (set cfg.Events before runner.New).
func NewRunSource(r *runner.Runner, cfg runner.Config) (*RunSource, error) {
	switch {
	case r == nil:
		return nil, fmt.Errorf("dashboard: nil Runner: %w", ebb.ErrInvalid)
	case cfg.Flow == nil:
		return nil, fmt.Errorf("dashboard: the runner's Config has no Flow: %w", ebb.ErrInvalid)
	case cfg.Events == nil:
		return nil, fmt.Errorf("dashboard: the runner's Config has no Events bus to follow: %w", ebb.ErrInvalid)
	}
	return &RunSource{runner: r, flow: cfg.Flow, events: cfg.Events}, nil
}

// Flow returns the runner's flow.
func (s *RunSource) Flow() *ebb.Flow { return s.flow }

// Subscribe subscribes to the runner's event bus.
func (s *RunSource) Subscribe(size int) *runner.Subscription { return s.events.Subscribe(size) }

// Status reports the Runner's State and Progress, and the workers of
// Elastic.
func (s *RunSource) Status() Status {
	st := Status{State: s.runner.State(), Progress: s.runner.Progress()}
	if s.Elastic == nil {
		return st
	}
	es := s.Elastic.Status()
	for _, w := range es.Workers {
		st.Workers = append(st.Workers, Worker{ID: string(w.ID), Engine: s.Engine, Shape: w.Shape,
			Adopted: w.Adopted, Terminating: w.Terminating, LastBusy: w.LastBusy})
	}
	for _, l := range es.Launching {
		st.Launching = append(st.Launching, l.Shape)
	}
	st.Waiting = es.Waiting
	return st
}

// workerOf returns the worker among ws that an alloc ID names: an
// elastic cluster's alloc IDs are "WORKER/ALLOC".
func workerOf(allocID string, ws map[string]*workerRec) *workerRec {
	id, _, ok := strings.Cut(allocID, "/")
	if !ok {
		return nil
	}
	return ws[id]
}
