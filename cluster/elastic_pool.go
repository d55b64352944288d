package cluster

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// ID returns ElasticConfig.ID.
func (e *Elastic) ID() string { return e.cfg.ID }

// Capacity returns the resources of every worker that is up, and of every
// shape the cluster may launch and holds no worker of: each entry is a
// node the cluster has, or could have. A request whose Min fits none of
// them fails Allocate at once. The caller owns the result.
func (e *Elastic) Capacity(ctx context.Context) ([]ebb.Resources, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var caps []ebb.Resources
	held := make(map[string]bool)
	for _, w := range e.upLocked() {
		caps = append(caps, w.Shape.Resources.Clone())
		held[w.Shape.Name] = true
	}
	for _, s := range e.shapes {
		if !held[s.Name] && e.launchableLocked(s) {
			caps = append(caps, s.Resources.Clone())
		}
	}
	return caps, nil
}

// Offers returns the offers of the workers that are up, by worker ID. A
// worker that does not answer is left out (and logged): the others' offers
// are still good. An offer's ID is "WORKER/OFFER".
func (e *Elastic) Offers(ctx context.Context) ([]pool.Offer, error) {
	e.mu.Lock()
	ws := e.upLocked()
	e.mu.Unlock()
	offers := e.offersOf(ctx, ws)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return offers, nil
}

// offersOf returns the offers of ws, leaving out those that do not answer.
func (e *Elastic) offersOf(ctx context.Context, ws []*worker) []pool.Offer {
	var out []pool.Offer
	for _, w := range ws {
		offers, err := w.Pool.Offers(ctx)
		if err != nil {
			if ctx.Err() == nil {
				e.cfg.Logger.Warn("elastic: worker did not offer", "cluster", e.cfg.ID, "worker", w.ID, "err", err)
			}
			continue
		}
		for _, o := range offers {
			out = append(out, &offer{e: e, w: w, o: o})
		}
	}
	return out
}

// Alloc returns the live alloc with the given ID ("WORKER/ALLOC"), asking
// only its worker. It fails with ebb.ErrNotExist when the cluster holds no
// such worker or the worker no such alloc.
func (e *Elastic) Alloc(ctx context.Context, id string) (pool.Alloc, error) {
	wid, inner, ok := strings.Cut(id, "/")
	e.mu.Lock()
	w := e.workers[WorkerID(wid)]
	e.mu.Unlock()
	if !ok || w == nil {
		return nil, fmt.Errorf("elastic %s: alloc %q: no such worker: %w", e.cfg.ID, id, ebb.ErrNotExist)
	}
	a, err := w.Pool.Alloc(ctx, inner)
	if err != nil {
		return nil, fmt.Errorf("elastic %s: alloc %q: %w", e.cfg.ID, id, err)
	}
	return e.wrap(w, a), nil
}

// Allocs returns the live allocs of every worker that is up, by worker ID.
// It fails when a worker does not answer, since the list would be
// incomplete.
func (e *Elastic) Allocs(ctx context.Context) ([]pool.Alloc, error) {
	e.mu.Lock()
	ws := e.upLocked()
	e.mu.Unlock()
	var out []pool.Alloc
	for _, w := range ws {
		allocs, err := w.Pool.Allocs(ctx)
		if err != nil {
			return nil, fmt.Errorf("elastic %s: allocs of worker %s: %w", e.cfg.ID, w.ID, err)
		}
		for _, a := range allocs {
			out = append(out, e.wrap(w, a))
		}
	}
	return out, nil
}

// beginAccept reserves w for an Accept, so that it is not terminated as
// idle meanwhile. It reports false when w takes no new allocs.
func (e *Elastic) beginAccept(w *worker) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if w.terminating {
		return false
	}
	w.accepting++
	return true
}

// endAccept ends what beginAccept started.
func (e *Elastic) endAccept(w *worker) {
	e.mu.Lock()
	defer e.mu.Unlock()
	w.accepting--
	w.lastBusy = time.Now()
}

// freed notes that an alloc of w was freed, and tells the waiting requests
// to look at the offers again.
func (e *Elastic) freed(w *worker) {
	e.mu.Lock()
	defer e.mu.Unlock()
	w.lastBusy = time.Now()
	for _, r := range e.requests {
		r.wake()
	}
}

var (
	_ pool.Offer = (*offer)(nil)
	_ pool.Alloc = (*alloc)(nil)
)

// offer is a worker's offer, seen through the cluster.
type offer struct {
	e *Elastic
	w *worker
	o pool.Offer
}

func (o *offer) ID() string { return string(o.w.ID) + "/" + o.o.ID() }

func (o *offer) Available() ebb.Resources { return o.o.Available() }

// Accept accepts the worker's offer. It fails with ebb.ErrOfferGone when
// the worker is being terminated.
func (o *offer) Accept(ctx context.Context, meta pool.AllocMeta) (pool.Alloc, error) {
	if !o.e.beginAccept(o.w) {
		return nil, fmt.Errorf("elastic %s: accept offer %s: worker is terminating: %w", o.e.cfg.ID, o.ID(), ebb.ErrOfferGone)
	}
	a, err := o.o.Accept(ctx, meta)
	o.e.endAccept(o.w)
	if err != nil {
		return nil, fmt.Errorf("elastic %s: worker %s: %w", o.e.cfg.ID, o.w.ID, err)
	}
	return o.e.wrap(o.w, a), nil
}

// alloc is a worker's alloc, seen through the cluster: its ID is
// "WORKER/ALLOC" and its Pool the cluster.
type alloc struct {
	pool.Alloc
	e  *Elastic
	w  *worker
	id string
}

func (e *Elastic) wrap(w *worker, a pool.Alloc) pool.Alloc {
	return &alloc{Alloc: a, e: e, w: w, id: string(w.ID) + "/" + a.ID()}
}

func (a *alloc) ID() string { return a.id }

func (a *alloc) Pool() pool.Pool { return a.e }

func (a *alloc) Inspect(ctx context.Context) (pool.AllocInspect, error) {
	in, err := a.Alloc.Inspect(ctx)
	if err != nil {
		return in, err
	}
	in.ID = a.id
	in.Pool = a.e.cfg.ID
	return in, nil
}

// Free frees the alloc and tells the waiting requests that there is room.
func (a *alloc) Free(ctx context.Context) error {
	if err := a.Alloc.Free(ctx); err != nil {
		return err
	}
	a.e.freed(a.w)
	return nil
}

// Sizes returns the resources of the worker shapes the Elastic can launch
// now (not blocked by failures, within its caps' reach): the most one
// alloc can hold on each kind of worker. It does not block; the result is
// the caller's. A stealer reads it (stealer.Sizer) so as to ask for no
// more than a worker holds.
func (e *Elastic) Sizes() []ebb.Resources {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []ebb.Resources
	for _, s := range e.shapes {
		if e.launchableLocked(s) {
			out = append(out, s.Resources.Clone())
		}
	}
	return out
}
