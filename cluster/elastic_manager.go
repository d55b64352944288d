package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
)

// Run is the manager: it adopts the workers the provider lists, then plans
// launches for the waiting requests, launches, and terminates idle workers,
// until ctx is done. Then it fails the waiting requests with
// ebb.ErrClosed, waits for the launches in flight to give up (the provider
// cancels them), and terminates every worker it holds, launched or
// adopted, unless cfg.KeepWorkers is set; it spends at most
// ShutdownTimeout on that. It returns ctx's error, joined with the errors
// of the terminations that failed (those workers may still run), or the
// error of a Workers listing that failed for good.
//
// Run may be called once; a second call fails with ebb.ErrInvalid. Every
// goroutine it starts has ended when it returns.
func (e *Elastic) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.phase != phaseNew {
		e.mu.Unlock()
		return fmt.Errorf("elastic %s: Run called twice: %w", e.cfg.ID, ebb.ErrInvalid)
	}
	e.phase = phaseRunning
	e.mu.Unlock()
	close(e.startc)
	defer close(e.donec)

	err := e.adopt(ctx)
	if err == nil {
		e.emitAdopted()
		close(e.readyc)
		e.loop(ctx)
		err = ctx.Err()
	}
	return e.shutdown(ctx, err)
}

// adopt holds the workers the provider lists, as if they had just come up.
func (e *Elastic) adopt(ctx context.Context) error {
	var ws []Worker
	for try := 0; ; try++ {
		var err error
		ws, err = e.cfg.Provider.Workers(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !ebb.Retryable(err) {
			return fmt.Errorf("elastic %s: list the provider's workers: %w", e.cfg.ID, err)
		}
		e.cfg.Logger.Warn("elastic: listing workers failed", "cluster", e.cfg.ID, "try", try, "err", err)
		if err := e.failure.Sleep(ctx, try); err != nil {
			return err
		}
	}
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, w := range ws {
		if err := w.validate(); err != nil {
			e.cfg.Logger.Error("elastic: provider listed a bad worker; leaving it alone", "cluster", e.cfg.ID, "err", err)
			continue
		}
		if e.workers[w.ID] != nil {
			e.cfg.Logger.Error("elastic: provider listed a worker twice", "cluster", e.cfg.ID, "worker", w.ID)
			continue
		}
		if w.Shape.Resources.IsZero() {
			if i := slices.IndexFunc(e.shapes, func(s Shape) bool { return s.Name == w.Shape.Name }); i >= 0 {
				w.Shape = e.shapes[i]
			}
		}
		w.Shape = w.Shape.clone()
		w.Labels = w.Labels.Clone()
		e.workers[w.ID] = &worker{Worker: w, adopted: true, lastBusy: now}
		e.cfg.Logger.Info("elastic: adopted worker", "cluster", e.cfg.ID, "worker", w.ID, "shape", w.Shape.Name)
	}
	return nil
}

// loop plans, launches and polls until ctx is done.
func (e *Elastic) loop(ctx context.Context) {
	nextPoll := time.Now().Add(e.cfg.PollInterval)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		now := time.Now()
		starts, wake := e.plan(now)
		for _, l := range starts {
			e.wg.Add(1)
			go e.launch(ctx, l)
		}
		if !now.Before(nextPoll) {
			e.poll(ctx)
			nextPoll = time.Now().Add(e.cfg.PollInterval)
		}
		next := nextPoll
		if !wake.IsZero() && wake.Before(next) {
			next = wake
		}
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			return
		case <-e.kickc:
		case <-timer.C:
		}
	}
}

// plan packs the unclaimed requests into launches, when a batch window has
// passed or something changed since the last plan, and returns the new
// launches to start and when to plan next (zero: when kicked).
func (e *Elastic) plan(now time.Time) (starts []*launch, wake time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	earlier := func(t time.Time) {
		if wake.IsZero() || t.Before(wake) {
			wake = t
		}
	}
	for _, st := range e.shapeAt {
		if st.blocked && !now.Before(st.until) {
			st.blocked = false
			e.dirty = true
		}
	}

	var unclaimed []*request
	due := e.dirty
	for _, r := range e.requests {
		if r.claim != nil || r.served != nil || r.trying || r.err != nil {
			continue
		}
		if !e.feasibleLocked(r.want.Min) {
			r.err = fmt.Errorf("elastic %s: allocate %s: no worker or shape the cluster may launch can hold it any more: %w",
				e.cfg.ID, r.want, ebb.ErrResources)
			r.wake()
			continue
		}
		unclaimed = append(unclaimed, r)
		if !r.planned {
			if at := r.since.Add(e.cfg.BatchWindow); now.Before(at) {
				earlier(at)
			} else {
				due = true
			}
		}
	}
	if len(unclaimed) == 0 {
		e.dirty = false
		return nil, time.Time{}
	}
	for _, st := range e.shapeAt {
		if st.blocked {
			earlier(st.until)
		}
	}
	if !due {
		return nil, wake
	}
	e.dirty = false

	var shapes []Shape
	for _, s := range e.shapes {
		if e.launchableLocked(s) && !e.shapeAt[s.Name].blocked {
			shapes = append(shapes, s)
		}
	}
	inflight := e.launchesLocked()
	launching := make([]Launching, len(inflight))
	for i, l := range inflight {
		free := l.shape.Resources
		for r, width := range l.claims {
			free = free.Sub(r.want.Min.Scale(float64(width)))
		}
		launching[i] = Launching{Shape: l.shape, Free: free}
	}
	wants := make([]ebb.Requirements, len(unclaimed))
	for i, r := range unclaimed {
		wants[i] = r.want
		r.planned = true
	}
	for _, pl := range Pack(wants, shapes, launching, e.limitsLocked()) {
		var l *launch
		if pl.Launching >= 0 {
			l = inflight[pl.Launching]
		} else {
			e.seq++
			l = &launch{id: e.seq, shape: pl.Shape, claims: make(map[*request]int)}
			l.labels = e.launchLabels(unclaimed, pl.Claims)
			e.launches[l] = struct{}{}
			starts = append(starts, l)
		}
		for _, c := range pl.Claims {
			r := unclaimed[c.Request]
			r.claim = l
			l.claims[r] = c.Width
		}
	}
	return starts, wake
}

// limitsLocked returns what Pack may launch now: the room under MaxWorkers
// and MaxPending, and under CostCap.
func (e *Elastic) limitsLocked() Limits {
	n := min(e.cfg.MaxWorkers-len(e.workers)-len(e.launches), e.cfg.MaxPending-len(e.launches))
	lim := Limits{Launches: max(0, n), Budget: math.Inf(1)}
	if e.cfg.CostCap > 0 {
		spent := 0.0
		for _, w := range e.workers {
			spent += w.Shape.Price
		}
		for l := range e.launches {
			spent += l.shape.Price
		}
		lim.Budget = e.cfg.CostCap/60 - spent
	}
	return lim
}

// launchLabels returns the labels of a new launch: the config's, and those
// that every request it is for agrees on.
func (e *Elastic) launchLabels(reqs []*request, claims []Claim) ebb.Labels {
	var common ebb.Labels
	for i, c := range claims {
		labels := reqs[c.Request].labels
		if i == 0 {
			common = labels.Clone()
			continue
		}
		maps.DeleteFunc(common, func(k, v string) bool {
			w, ok := labels[k]
			return !ok || w != v
		})
	}
	return e.cfg.Labels.Merge(common)
}

// launch runs one launch: it calls the provider and, when the worker is
// up, hands it to the requests that claim it.
func (e *Elastic) launch(ctx context.Context, l *launch) {
	defer e.wg.Done()
	log := e.cfg.Logger.With("cluster", e.cfg.ID, "launch", l.id, "shape", l.shape.Name)
	claims := e.claimCount(l)
	log.Info("elastic: launching worker", "claims", claims)
	e.emit(WorkerEvent{Kind: WorkerLaunching, Shape: l.shape.Name, Launch: l.id, Reason: fmt.Sprintf("launch %d of %s for %d waiting allocs", l.id, l.shape, claims)})
	began := time.Now()
	w, err := e.cfg.Provider.Launch(ctx, l.shape.clone(), l.labels.Clone())
	if err == nil {
		err = w.validate()
		if err != nil {
			err = fmt.Errorf("provider returned a bad worker: %w", err)
		}
	}
	now := time.Now()
	e.mu.Lock()
	delete(e.launches, l)
	if err == nil && e.workers[w.ID] != nil {
		err = fmt.Errorf("provider returned worker %s, which the cluster holds already: %w", w.ID, ebb.ErrInvalid)
	}
	if err != nil {
		for r := range l.claims {
			r.claim = nil
			r.since = now
			r.planned = false
		}
		if ctx.Err() == nil {
			e.failedLocked(l.shape, err, now)
		}
		// A worker the provider returned but the cluster cannot use
		// (no pool, say) is stopped, unless its ID is one the cluster
		// holds.
		stray := w.ID.Validate() == nil && e.workers[w.ID] == nil
		e.dirty = true
		e.mu.Unlock()
		e.kick()
		if ctx.Err() == nil {
			log.Warn("elastic: launch failed", "err", err)
			e.emit(WorkerEvent{Kind: WorkerLaunchFailed, Shape: l.shape.Name, Launch: l.id, Err: err, Reason: fmt.Sprintf("launch %d failed: %v", l.id, err)})
		}
		if stray {
			if err := e.terminate(ctx, &worker{Worker: w}); err != nil {
				log.Error("elastic: could not terminate the bad worker", "worker", w.ID, "err", err)
			}
		}
		return
	}
	if w.Shape.Name == "" {
		w.Shape = l.shape
	}
	w.Shape = w.Shape.clone()
	w.Labels = w.Labels.Clone()
	wk := &worker{Worker: w, lastBusy: now}
	e.workers[w.ID] = wk
	e.shapeAt[l.shape.Name].failures = 0
	for r, width := range l.claims {
		r.claim = nil
		r.served = wk
		r.width = width
		r.wake()
	}
	// The other waiting requests get a batch window to find the new
	// worker's spare room before the next plan.
	for _, r := range e.requests {
		if r.claim == nil && r.served == nil {
			r.since = now
			r.planned = false
		}
	}
	e.mu.Unlock()
	e.kick()
	log.Info("elastic: worker up", "worker", w.ID)
	e.emit(WorkerEvent{Kind: WorkerUp, Worker: w.ID, Shape: w.Shape.Name, Launch: l.id, Reason: fmt.Sprintf("launch %d up after %v", l.id, now.Sub(began).Round(time.Millisecond))})
}

func (e *Elastic) claimCount(l *launch) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(l.claims)
}

// failedLocked backs off shape after a failed launch, or drops it when the
// provider can never provide it.
func (e *Elastic) failedLocked(shape Shape, err error, now time.Time) {
	st := e.shapeAt[shape.Name]
	if errors.Is(err, ebb.ErrResources) {
		st.disabled = err
		return
	}
	st.until = now.Add(e.failure.Wait(st.failures))
	st.failures++
	st.blocked = true
}

// poll asks every worker that is up for its allocs, and terminates those
// that held none for IdleTimeout.
func (e *Elastic) poll(ctx context.Context) {
	e.mu.Lock()
	ws := e.upLocked()
	e.mu.Unlock()
	busy := make([]bool, len(ws))
	errs := make([]error, len(ws))
	for i, w := range ws {
		pctx, cancel := context.WithTimeout(ctx, e.cfg.PollInterval)
		allocs, err := w.Pool.Allocs(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			e.cfg.Logger.Warn("elastic: worker did not list its allocs", "cluster", e.cfg.ID, "worker", w.ID, "err", err)
		}
		busy[i] = err == nil && len(allocs) > 0
		errs[i] = err
	}
	now := time.Now()
	var idle []*worker
	var lost []WorkerEvent
	e.mu.Lock()
	for i, w := range ws {
		if errs[i] != nil && !w.silent {
			lost = append(lost, WorkerEvent{Kind: WorkerLost, Worker: w.ID, Shape: w.Shape.Name, Err: errs[i], Reason: fmt.Sprintf("did not answer: %v", errs[i])})
		}
		w.silent = errs[i] != nil
		switch {
		case busy[i]:
			w.lastBusy = now
		case w.terminating || w.accepting > 0 || now.Sub(w.lastBusy) < e.cfg.IdleTimeout:
		case slices.ContainsFunc(e.requests, func(r *request) bool { return r.served == w }):
		default:
			w.terminating = true
			idle = append(idle, w)
		}
	}
	e.mu.Unlock()
	for _, ev := range lost {
		e.emit(ev)
	}
	for _, w := range idle {
		e.cfg.Logger.Info("elastic: terminating idle worker", "cluster", e.cfg.ID, "worker", w.ID, "idle", now.Sub(w.lastBusy))
		e.emit(WorkerEvent{Kind: WorkerStopping, Worker: w.ID, Shape: w.Shape.Name, Reason: fmt.Sprintf("idle %v", now.Sub(w.lastBusy).Round(time.Second))})
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			err := e.terminate(ctx, w)
			e.mu.Lock()
			if err == nil {
				delete(e.workers, w.ID)
				e.dirty = true
			}
			e.mu.Unlock()
			if err == nil {
				e.emit(WorkerEvent{Kind: WorkerStopped, Worker: w.ID, Shape: w.Shape.Name, Reason: "terminated: idle"})
			}
			e.kick()
		}()
	}
}

// terminate terminates w, retrying while the provider is unavailable,
// until ctx is done.
func (e *Elastic) terminate(ctx context.Context, w *worker) error {
	for try := 0; ; try++ {
		err := e.cfg.Provider.Terminate(ctx, w.ID)
		if err == nil || errors.Is(err, ebb.ErrNotExist) {
			return nil
		}
		err = fmt.Errorf("elastic %s: terminate worker %s: %w", e.cfg.ID, w.ID, err)
		if ctx.Err() != nil || !ebb.Retryable(err) {
			return err
		}
		e.cfg.Logger.Warn("elastic: terminate failed", "cluster", e.cfg.ID, "worker", w.ID, "try", try, "err", err)
		if e.failure.Sleep(ctx, try) != nil {
			return err
		}
	}
}

// shutdown stops the cluster: it fails the waiting requests, waits for the
// launch and terminate goroutines, and terminates the workers.
func (e *Elastic) shutdown(ctx context.Context, err error) error {
	e.mu.Lock()
	e.phase = phaseStopped
	for _, r := range e.requests {
		if r.err == nil {
			r.err = e.errClosed()
		}
		r.wake()
	}
	e.mu.Unlock()
	e.wg.Wait()
	if e.cfg.KeepWorkers {
		e.emitKept()
		return err
	}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.ShutdownTimeout)
	defer cancel()
	e.mu.Lock()
	ws := slices.Collect(maps.Values(e.workers))
	for _, w := range ws {
		w.terminating = true
	}
	e.mu.Unlock()
	e.emitEach(WorkerStopping, ws, nil, "the cluster is stopping")
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Go(func() { errs[i] = e.terminate(sctx, w) })
	}
	wg.Wait()
	e.mu.Lock()
	for i, w := range ws {
		if errs[i] == nil {
			delete(e.workers, w.ID)
		}
	}
	e.mu.Unlock()
	e.emitEach(WorkerStopped, ws, errs, "terminated: the cluster stopped")
	return errors.Join(append([]error{err}, errs...)...)
}
