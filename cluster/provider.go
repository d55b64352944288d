package cluster

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// A Provider starts and stops workers on one engine: local processes, a
// Slurm partition, a Kubernetes namespace, a user's commands. An [Elastic]
// cluster decides when to launch and terminate; the provider only does it.
//
// Implementations must be safe for concurrent use: an Elastic launches
// several workers at once and terminates others meanwhile.
type Provider interface {
	// Shapes returns the kinds of worker the provider can launch. It must
	// not block, and must return the same shapes for the provider's life:
	// an Elastic reads them once, in NewElastic. The caller owns the
	// returned slice.
	Shapes() []Shape

	// Launch starts a worker of the given shape and returns once the
	// worker is up and its pool answers, which may take minutes. The
	// labels travel to the engine (a job comment, pod labels) for the
	// people reading it; the provider adds whatever it needs to find its
	// workers again in Workers.
	//
	// Launch must leave nothing behind when it fails or ctx is done
	// first: whatever it had started is stopped before it returns. It
	// fails with an error wrapping ebb.ErrUnavailable when trying again
	// later may work (no capacity in the engine now, a node that did not
	// come up), with ebb.ErrResources when the engine can never provide
	// the shape (an Elastic stops launching it), and with ebb.ErrInvalid
	// for a shape that is not one of Shapes (matched by Name). On
	// success the Worker's ID is new, and its Shape is the shape asked
	// for.
	Launch(ctx context.Context, shape Shape, labels ebb.Labels) (Worker, error)

	// Workers lists the workers of this provider that exist, up or still
	// starting, including those launched by an earlier process with the
	// same configuration: an Elastic adopts them when it starts, so that
	// a restarted driver re-attaches to the allocs that live on them and
	// terminates the ones it no longer needs. A starting worker's pool
	// may fail with ebb.ErrUnavailable until it is up. The caller owns
	// the returned slice.
	//
	// Adoption is the provider's contract with a driver that outlives a
	// crash. Launch keeps a [WorkerRecord] of every worker (its engine
	// handle, address, certificate pin and token) where a provider made
	// later with the same configuration finds it: a [RecordDir] file of
	// mode 0600 beside the workers, or the engine's own secret store
	// (a Kubernetes Secret, with the pods labelled by the run); never in
	// a run's State, which may be read by others. The record is written
	// before the worker can take an alloc, and removed once the worker is
	// terminated or found gone. Workers of a new provider reads the
	// records, and for each one whose worker is still alive connects to
	// its pool with the recorded token and pin, so that the allocs on it,
	// and the execs in them, are reached again. A recorded worker that is
	// alive but cannot be reached (it never said where it serves, or does
	// not answer) is stopped, and Workers returns only once it is stopped
	// or its engine says it is stopping with its execs killed: a resumed
	// run may then start the tasks that were running there elsewhere
	// without running any twice at the same time.
	Workers(ctx context.Context) ([]Worker, error)

	// Terminate stops the worker with the given ID, killing the allocs on
	// it, and returns once it is stopped or stopping: it takes no new
	// allocs, and Workers no longer lists it. Terminate must be
	// idempotent: terminating a worker that is already gone, or that
	// never was, returns nil. It fails with an error wrapping
	// ebb.ErrUnavailable when the engine did not answer, and the caller
	// tries again.
	Terminate(ctx context.Context, id WorkerID) error
}

// A Shape is a kind of worker a [Provider] can launch: a machine type, a
// Slurm resource request, a pod size.
type Shape struct {
	// Name identifies the shape among the provider's shapes, as in
	// "n2-standard-8" or "small".
	Name string `json:"name"`
	// Resources are what a worker of this shape offers: the capacity of
	// its pool, after whatever the engine keeps for itself. An Elastic
	// packs requests into shapes by these numbers, so they must not
	// promise more than the worker's pool has.
	Resources ebb.Resources `json:"resources"`
	// Price is what a worker of this shape costs per minute it lives, in
	// whatever unit the user budgets in (dollars, core-minutes). Zero
	// means free or unknown. An Elastic launches the cheapest shape that
	// fits and keeps the sum under its CostCap.
	Price float64 `json:"price,omitempty"`
}

// Validate returns an error wrapping ebb.ErrInvalid that names the shape
// and its bad field: an empty Name, Resources that are invalid or empty,
// or a Price that is negative, NaN or infinite.
func (s Shape) Validate() error {
	switch {
	case s.Name == "":
		return fmt.Errorf("shape %s: empty name: %w", s.Resources, ebb.ErrInvalid)
	case s.Resources.IsZero():
		return fmt.Errorf("shape %q: no resources: %w", s.Name, ebb.ErrInvalid)
	case s.Price < 0 || math.IsNaN(s.Price) || math.IsInf(s.Price, 0):
		return fmt.Errorf("shape %q: price %v: must be finite and not negative: %w", s.Name, s.Price, ebb.ErrInvalid)
	}
	if err := s.Resources.Validate(); err != nil {
		return fmt.Errorf("shape %q: %w", s.Name, err)
	}
	return nil
}

// CheckShapes returns a copy of a provider's shapes, each with its own
// Resources, or an error wrapping ebb.ErrInvalid that names the first bad
// one: none given, an invalid shape (see Shape.Validate), or a name given
// twice. Providers check their configured shapes with it.
func CheckShapes(shapes []Shape) ([]Shape, error) {
	if len(shapes) == 0 {
		return nil, fmt.Errorf("Shapes: none given: %w", ebb.ErrInvalid)
	}
	names := make(map[string]bool, len(shapes))
	out := make([]Shape, len(shapes))
	for i, s := range shapes {
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("Shapes[%d]: %w", i, err)
		}
		if names[s.Name] {
			return nil, fmt.Errorf("Shapes: name %q given twice: %w", s.Name, ebb.ErrInvalid)
		}
		names[s.Name] = true
		out[i] = s.clone()
	}
	return out, nil
}

// CloneShapes returns a copy of shapes, each with its own Resources: what
// a provider's Shapes returns.
func CloneShapes(shapes []Shape) []Shape {
	out := make([]Shape, len(shapes))
	for i, s := range shapes {
		out[i] = s.clone()
	}
	return out
}

// FindShape returns the shape named name among shapes, with its own
// Resources, and whether there is one.
func FindShape(shapes []Shape, name string) (Shape, bool) {
	for _, s := range shapes {
		if s.Name == name {
			return s.clone(), true
		}
	}
	return Shape{}, false
}

// clone returns s with its own copy of Resources.
func (s Shape) clone() Shape {
	s.Resources = s.Resources.Clone()
	return s
}

// String reads like "small (2 cpu, 4.0 GiB mem)".
func (s Shape) String() string { return fmt.Sprintf("%s (%s)", s.Name, s.Resources) }

// A WorkerID names a worker within its provider: a process ID, a Slurm job
// ID, a pod name. It is not empty and holds no '/', because an Elastic
// names the allocs on a worker "WORKER/ALLOC".
type WorkerID string

// Validate returns an error wrapping ebb.ErrInvalid unless id is a valid
// worker ID: not empty, and without '/'.
func (id WorkerID) Validate() error {
	if id == "" || strings.Contains(string(id), "/") {
		return fmt.Errorf("worker ID %q: want a non-empty name without '/': %w", id, ebb.ErrInvalid)
	}
	return nil
}

// A Worker is one launched worker, as a [Provider] reports it: a process
// on some machine that serves one pool. A Worker is a value; its Pool is
// shared, and safe for concurrent use as every Pool is.
type Worker struct {
	// ID names the worker within its provider.
	ID WorkerID
	// Shape is the shape it was launched with.
	Shape Shape
	// Pool is the worker's pool. Its allocs are the worker's; when the
	// worker is terminated, they end.
	Pool pool.Pool
	// Labels are the labels the worker was launched with, where the
	// engine keeps them.
	Labels ebb.Labels
}

// validate checks what an Elastic relies on.
func (w Worker) validate() error {
	if err := w.ID.Validate(); err != nil {
		return err
	}
	if w.Pool == nil {
		return fmt.Errorf("worker %s: nil pool: %w", w.ID, ebb.ErrInvalid)
	}
	return nil
}
