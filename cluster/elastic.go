package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/backoff"
	"github.com/ebbflow/ebb/pool"
)

// Elastic is a Cluster that grows by launching workers through a
// [Provider] and shrinks by terminating the idle ones. As a Pool it is the
// union of its workers' pools.
//
// Allocate first takes the best-fitting offer of the workers that are up
// (as pool.Allocate would). When none fits, the request waits, and the
// manager (see [Elastic.Run]) packs the requests that arrived within
// BatchWindow of each other into worker shapes with [Pack]: requests that
// fit the spare room of a launch already in flight claim it, and the rest
// open new launches, within MaxWorkers, MaxPending and CostCap. When a
// launch completes, the requests it was for take their allocs from the new
// worker, which no other request takes from until they have tried. A
// request that gets an alloc elsewhere first, or whose Allocate is
// cancelled, drops its claim: the launch goes on, and its worker serves a
// later request or idles until it is terminated. A shape whose launches
// fail is not launched again for a while (BackoffMin to BackoffMax), and a
// shape the provider says it can never provide is dropped.
//
// The queue is not fair: waiting requests race for each worker's offers,
// and under tight limits the biggest requests get the launches first (see
// [Pack]). A request that only an adopted worker could hold waits for it
// to have room, and fails with ebb.ErrResources once no worker or shape
// could ever hold it.
//
// Allocs are named "WORKER/ALLOC", so that Alloc finds an alloc's worker
// from its ID alone; their Pool is the Elastic. A worker whose allocs are
// all gone for IdleTimeout is terminated; a worker that stops answering
// counts as idle.
//
// An Elastic is safe for concurrent use. One mutex guards its state (the
// fields below mu); it is never held while calling the provider or a
// worker's pool. The manager goroutine, Run, does the timed work: it plans
// launches at the end of a batch window, polls the workers for idleness,
// and starts a goroutine per launch and per termination. Make one with
// NewElastic and start its manager with `go elastic.Run(ctx)` before
// handing it out: the Pool methods work before Run starts (against no
// workers), but an Allocate that finds Run not started within RunWait
// fails with ebb.ErrNotRunning rather than wait for launches that would
// never come.
type Elastic struct {
	cfg     ElasticConfig  // defaults filled in; never written after NewElastic
	shapes  []Shape        // the provider's shapes, validated; never written
	retry   backoff.Policy // a waiting Allocate's looks at the offers
	failure backoff.Policy // a failing shape's launches; Workers and Terminate retries
	kickc   chan struct{}  // wakes the manager; capacity 1
	startc  chan struct{}  // closed once Run has started
	readyc  chan struct{}  // closed once Run has adopted the provider's workers
	donec   chan struct{}  // closed when Run has returned
	wg      sync.WaitGroup // the launch and terminate goroutines of Run

	mu       sync.Mutex
	phase    phase                  // phaseNew → phaseRunning → phaseStopped
	workers  map[WorkerID]*worker   // up, or terminating
	requests []*request             // the waiting Allocates, in arrival order
	launches map[*launch]struct{}   // in flight
	shapeAt  map[string]*shapeState // by shape name
	dirty    bool                   // something changed that may let unplaced requests be placed
	seq      int                    // numbers launches, for the logs
}

var _ Cluster = (*Elastic)(nil)

type phase int

const (
	phaseNew phase = iota
	phaseRunning
	phaseStopped
)

// worker is a worker the cluster holds.
type worker struct {
	Worker       // never written after it is added
	adopted bool // listed by Provider.Workers at Run's start

	// Guarded by Elastic.mu.
	terminating bool      // takes no new allocs; Terminate called or about to be
	accepting   int       // Accepts in progress on its pool
	lastBusy    time.Time // when it was last seen holding an alloc, or came up
	silent      bool      // did not answer the last poll (reported lost)
}

// request is a waiting Allocate.
type request struct {
	want   ebb.Requirements
	labels ebb.Labels
	wakec  chan struct{} // capacity 1: a worker came up for it, an alloc was freed, or err was set

	// Guarded by Elastic.mu.
	registered bool
	since      time.Time // when it last became unclaimed
	planned    bool      // Pack saw it, unclaimed, since then
	claim      *launch   // the launch in flight it will be served by
	served     *worker   // the worker its claimed launch brought up, until it tries it
	trying     bool      // it is trying the worker it was served, and is not to be planned meanwhile
	width      int       // units of want.Min claimed, with claim or served
	err        error     // why the cluster gave up on it: closed, or it can never fit

	// shown is its task in cfg.Status while it waits (guarded too).
	shown *statusTask
}

// launch is a launch in flight.
type launch struct {
	id     int
	shape  Shape
	labels ebb.Labels
	claims map[*request]int // Guarded by Elastic.mu: width claimed by each request
}

// shapeState is what the manager knows of a shape's launches.
type shapeState struct {
	failures int       // consecutive failed launches
	until    time.Time // no launch before then
	blocked  bool      // until had not passed at the last plan
	disabled error     // set once the provider said it can never provide the shape
}

// NewElastic returns an Elastic cluster over cfg.Provider. It reads the
// provider's shapes and fails with ebb.ErrInvalid, naming the field, when
// cfg or a shape is invalid (no shapes, two with one name). It starts
// nothing: start the manager with `go elastic.Run(ctx)`.
func NewElastic(cfg ElasticConfig) (*Elastic, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	shapes := cfg.Provider.Shapes()
	if len(shapes) == 0 {
		return nil, fmt.Errorf("elastic %s: provider has no shapes: %w", cfg.ID, ebb.ErrInvalid)
	}
	e := &Elastic{
		cfg:      cfg,
		retry:    cfg.retries(),
		failure:  cfg.failures(),
		kickc:    make(chan struct{}, 1),
		startc:   make(chan struct{}),
		readyc:   make(chan struct{}),
		donec:    make(chan struct{}),
		workers:  make(map[WorkerID]*worker),
		launches: make(map[*launch]struct{}),
		shapeAt:  make(map[string]*shapeState),
	}
	for i, s := range shapes {
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("elastic %s: provider shape %d: %w", cfg.ID, i, err)
		}
		if e.shapeAt[s.Name] != nil {
			return nil, fmt.Errorf("elastic %s: provider has two shapes named %q: %w", cfg.ID, s.Name, ebb.ErrInvalid)
		}
		e.shapes = append(e.shapes, s.clone())
		e.shapeAt[s.Name] = &shapeState{}
	}
	return e, nil
}

// Allocate grants an alloc of req from one of the workers, launching one
// if need be; see [Elastic] for how. It blocks until it has the alloc, ctx
// is done, or Run returns (then it fails with ebb.ErrClosed). On failure it
// leaves nothing behind: no alloc, and no claim on a launch. It fails at
// once with ebb.ErrInvalid for a malformed req or labels, and with
// ebb.ErrResources when req.Min fits no shape within CostCap and no
// worker. Called before Run, it waits up to RunWait for Run to start
// (so that `go elastic.Run(ctx)` just before is enough), then fails with
// ebb.ErrNotRunning: without Run nothing is ever launched.
func (e *Elastic) Allocate(ctx context.Context, req ebb.Requirements, labels ebb.Labels) (pool.Alloc, error) {
	meta := pool.AllocMeta{Want: req, Owner: e.cfg.Allocator.Owner, Labels: labels}
	if err := meta.Validate(); err != nil {
		return nil, fmt.Errorf("elastic %s: allocate: %w", e.cfg.ID, err)
	}
	meta.Want.Min = req.Min.Clone()
	meta.Labels = labels.Clone()
	r := &request{want: meta.Want, labels: meta.Labels, wakec: make(chan struct{}, 1)}
	e.mu.Lock()
	err := e.admitLocked(r)
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := e.awaitRun(ctx, req); err != nil {
		return nil, err
	}
	defer e.unregister(r)
	for try := 0; ; try++ {
		if a := e.take(ctx, r, meta); a != nil {
			return a, nil
		}
		if err := e.register(r); err != nil {
			return nil, err
		}
		timer := time.NewTimer(e.retry.Wait(try))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, fmt.Errorf("elastic %s: allocate %s: %w", e.cfg.ID, req, ctx.Err())
		case <-r.wakec:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// awaitRun returns once Run has started, waiting for it at most RunWait.
func (e *Elastic) awaitRun(ctx context.Context, req ebb.Requirements) error {
	select {
	case <-e.startc:
		return nil
	default:
	}
	timer := time.NewTimer(e.cfg.RunWait)
	defer timer.Stop()
	select {
	case <-e.startc:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("elastic %s: allocate %s: %w", e.cfg.ID, req, ctx.Err())
	case <-timer.C:
		return fmt.Errorf("elastic %s: allocate %s: the manager is not running, so no worker would ever be launched; start it with `go elastic.Run(ctx)` before the first Allocate: %w",
			e.cfg.ID, req, ebb.ErrNotRunning)
	}
}

// admitLocked fails r when the cluster is stopped or could never hold it.
func (e *Elastic) admitLocked(r *request) error {
	if r.err != nil {
		return r.err
	}
	if e.phase == phaseStopped {
		return fmt.Errorf("elastic %s: allocate %s: %w", e.cfg.ID, r.want, ebb.ErrClosed)
	}
	if !e.feasibleLocked(r.want.Min) {
		return fmt.Errorf("elastic %s: allocate %s: fits no worker, and no shape within the cost cap (shapes: %s): %w",
			e.cfg.ID, r.want, formatShapes(e.shapes), ebb.ErrResources)
	}
	return nil
}

// feasibleLocked reports whether min fits a worker that is up, or a shape
// the cluster may launch.
func (e *Elastic) feasibleLocked(min ebb.Resources) bool {
	for _, w := range e.workers {
		if !w.terminating && min.Fits(w.Shape.Resources) {
			return true
		}
	}
	for _, s := range e.shapes {
		if e.launchableLocked(s) && min.Fits(s.Resources) {
			return true
		}
	}
	return false
}

// launchableLocked reports whether s may ever be launched: the provider
// has not refused it, and it alone is within the cost cap.
func (e *Elastic) launchableLocked(s Shape) bool {
	return e.shapeAt[s.Name].disabled == nil && (e.cfg.CostCap == 0 || hourly(s.Price) <= e.cfg.CostCap*(1+1e-9))
}

// register makes r a waiting request, if it is not one yet, and tells the
// manager. It fails once the cluster gave up on r.
func (e *Elastic) register(r *request) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.admitLocked(r); err != nil {
		return err
	}
	if !r.registered {
		r.registered = true
		r.since = time.Now()
		r.planned = false
		e.requests = append(e.requests, r)
		e.showLocked(r)
		e.kick()
	}
	return nil
}

// unregister forgets r and drops its claim, if it has one, so that the
// launch's room goes to other requests.
func (e *Elastic) unregister(r *request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r.registered {
		r.registered = false
		e.requests = slices.DeleteFunc(e.requests, func(x *request) bool { return x == r })
		e.unshowLocked(r)
	}
	if r.claim != nil {
		delete(r.claim.claims, r)
		r.claim = nil
		e.dirty = true
		e.kick()
	}
	r.served = nil
}

// take tries to take an alloc for r from the workers that are up: from
// the worker its launch brought up first, if there is one, sized by its
// claim, then the best fit of the others. A worker that came up for other
// requests is theirs until they have tried it. take returns nil when
// nothing fits now.
func (e *Elastic) take(ctx context.Context, r *request, meta pool.AllocMeta) pool.Alloc {
	e.mu.Lock()
	served, width := r.served, r.width
	if served != nil {
		// Whatever happens now, the claim is used up: should the try
		// fail, r waits for the next plan like a new request. While it
		// tries, no plan launches for it again.
		r.served = nil
		r.trying = true
	}
	reserved := make(map[*worker]bool)
	for _, other := range e.requests {
		if other.served != nil {
			reserved[other.served] = true
		}
	}
	ws := slices.DeleteFunc(e.upLocked(), func(w *worker) bool { return reserved[w] && w != served })
	e.mu.Unlock()

	if served != nil {
		claimed := meta
		claimed.Want.Width = width
		a := e.acceptBest(ctx, []*worker{served}, claimed)
		if a == nil {
			a = e.acceptBest(ctx, ws, meta)
		}
		e.mu.Lock()
		r.trying = false
		if a == nil {
			r.since = time.Now()
			r.planned = false
		}
		e.mu.Unlock()
		e.kick()
		return a
	}
	return e.acceptBest(ctx, ws, meta)
}

// acceptBest accepts the best fit among the offers of ws for meta, or
// returns nil when none fits. It tries again, with fresh offers, when
// another client took the offer first.
func (e *Elastic) acceptBest(ctx context.Context, ws []*worker, meta pool.AllocMeta) pool.Alloc {
	for range maxRaces {
		o := pool.BestFit(e.offersOf(ctx, ws), meta.Want.Min)
		if o == nil {
			return nil
		}
		a, err := o.Accept(ctx, meta)
		if err == nil {
			return a
		}
		e.cfg.Logger.Debug("elastic: accept failed", "cluster", e.cfg.ID, "offer", o.ID(), "want", meta.Want.String(), "err", err)
		if !errors.Is(err, ebb.ErrOfferGone) {
			return nil
		}
	}
	return nil
}

// maxRaces bounds how many lost races for an offer take tries in a row
// before it waits like a request that found nothing.
const maxRaces = 8

// upLocked returns the workers that take allocs, by ID.
func (e *Elastic) upLocked() []*worker {
	var ws []*worker
	for _, w := range e.workers {
		if !w.terminating {
			ws = append(ws, w)
		}
	}
	slices.SortFunc(ws, func(a, b *worker) int { return compareIDs(a.ID, b.ID) })
	return ws
}

func compareIDs(a, b WorkerID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// wake tells r to look at the offers again; it never blocks.
func (r *request) wake() {
	select {
	case r.wakec <- struct{}{}:
	default:
	}
}

// kick tells the manager to plan again; it never blocks.
func (e *Elastic) kick() {
	select {
	case e.kickc <- struct{}{}:
	default:
	}
}

// Ready blocks until Run has adopted the workers the provider lists, so
// that the Pool methods see them, or until ctx is done. It fails with
// ebb.ErrClosed when Run returned first.
func (e *Elastic) Ready(ctx context.Context) error {
	select {
	case <-e.donec:
		return fmt.Errorf("elastic %s: Run has returned: %w", e.cfg.ID, ebb.ErrClosed)
	default:
	}
	select {
	case <-e.readyc:
		return nil
	case <-e.donec:
		return fmt.Errorf("elastic %s: Run has returned: %w", e.cfg.ID, ebb.ErrClosed)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// launchesLocked returns the launches in flight in the order they started.
func (e *Elastic) launchesLocked() []*launch {
	ls := slices.Collect(maps.Keys(e.launches))
	slices.SortFunc(ls, func(a, b *launch) int { return a.id - b.id })
	return ls
}

func formatShapes(shapes []Shape) string {
	s := make([]string, len(shapes))
	for i, sh := range shapes {
		s[i] = sh.String()
	}
	return fmt.Sprint(s)
}

// errClosed says that Run has returned.
func (e *Elastic) errClosed() error {
	return fmt.Errorf("elastic %s: %w", e.cfg.ID, ebb.ErrClosed)
}
