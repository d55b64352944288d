package runner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/internal/backoff"
	"github.com/ebbflow/ebb/pool"
)

// init stores the flow's local files, lets go of the auxiliary allocs of an
// earlier driver, and gets the primary: the one recorded in the State while
// it lives, a new one otherwise.
func (r *Runner) init(ctx context.Context) error {
	if err := r.storePaths(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.fail(err)
		return nil
	}
	if err := r.checkCapacity(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ebb.ErrResources) || errors.Is(err, ebb.ErrInvalid) {
			r.fail(err)
			return nil
		}
		r.retryLater(err)
		return nil
	}
	r.reattachAux(ctx)
	if r.primary == nil && r.state.Primary != nil {
		r.reattach(ctx)
	}
	if r.primary == nil {
		req := r.cfg.Primary
		if req.IsZero() {
			req = r.graph.Requirements()
		}
		r.cfg.Status.Printf("waiting for the primary alloc (%s)", req)
		a, err := r.cfg.Cluster.Allocate(ctx, req, r.labels())
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, ebb.ErrResources) || errors.Is(err, ebb.ErrInvalid):
			r.fail(fmt.Errorf("primary alloc: %w", err))
			return nil
		default:
			r.retryLater(fmt.Errorf("primary alloc: %w", err))
			return nil
		}
		r.hold(ctx, a)
		r.cfg.Logger.Info("primary alloc", "alloc", a.ID(), "resources", a.Resources())
	}
	r.update(func(s *State) {
		s.Phase = PhaseEval
		s.NumTries++
		s.LastTry = time.Now()
		s.setErr(nil)
	})
	return nil
}

// storePaths puts the flow's local files into the repository, and checks
// they still have the content they were hashed with.
func (r *Runner) storePaths(ctx context.Context) error {
	for _, p := range slices.Sorted(maps.Keys(r.paths)) {
		d, err := r.cfg.Repository.PutFile(ctx, p)
		if err != nil {
			return fmt.Errorf("store input file %s: %w", p, err)
		}
		if d != r.paths[p] {
			return fmt.Errorf("input file %s changed since the run started (was %s, now %s): %w", p, r.paths[p], d, ebb.ErrInvalid)
		}
	}
	return nil
}

// checkCapacity fails with ebb.ErrResources when a task fits no node of
// the cluster.
func (r *Runner) checkCapacity(ctx context.Context) error {
	caps, err := r.cfg.Cluster.Capacity(ctx)
	if err != nil {
		return fmt.Errorf("cluster capacity: %w", err)
	}
	where := "cluster " + r.cfg.Cluster.ID()
	if r.cfg.Aux != nil {
		// A task that fits only an auxiliary node still runs there.
		aux, err := r.cfg.Aux.Capacity(ctx)
		if err != nil {
			return fmt.Errorf("auxiliary cluster capacity: %w", err)
		}
		caps = append(caps, aux...)
		where += " or " + r.cfg.Aux.ID()
	}
	var problems []error
	var fits ebb.Resources // the map of the last task that fits
	for i := range r.cfg.Flow.Tasks {
		t := &r.cfg.Flow.Tasks[i]
		if fits != nil && sameMap(fits, t.Resources) {
			continue // tasks built in Go often share one map
		}
		if slices.ContainsFunc(caps, func(c ebb.Resources) bool { return t.Resources.Fits(c) }) {
			fits = t.Resources
		} else {
			problems = append(problems, fmt.Errorf("task %q needs %s, more than any node of %s holds: %w", t.Name, t.Resources, where, ebb.ErrResources))
			if len(problems) == 10 {
				break
			}
		}
	}
	return errors.Join(problems...)
}

// reattach takes back the primary recorded in the State, if it still lives.
func (r *Runner) reattach(ctx context.Context) {
	ref := r.state.Primary
	a, err := r.takeBack(ctx, r.cfg.Cluster, ref.ID)
	if err == nil {
		r.primary = a
		r.noteExecs(ctx, a)
		r.cfg.Logger.Info("re-attached primary alloc", "alloc", ref.ID)
		return
	}
	if ctx.Err() != nil {
		return
	}
	r.cfg.Logger.Info("primary alloc of the earlier driver is gone", "alloc", ref.ID, "err", err)
	r.update(func(s *State) {
		s.account(s.Primary, minTime(time.Now(), ref.Inspect.Expires))
		s.Primary = nil
	})
}

// takeBack finds the alloc named id in c and renews its lease: an alloc
// of an earlier driver's, named in the State. While c cannot answer now
// (an error ebb.Retryable says to retry), it asks again, paced as the
// run's retries, for as long as the alloc may still live: one lease,
// the longest an earlier driver may have renewed it for. Giving up
// sooner would run its tasks again elsewhere while their execs may still
// run there. It fails with the last error when the alloc is gone, when
// that time has passed, or when ctx is done.
func (r *Runner) takeBack(ctx context.Context, c cluster.Cluster, id string) (pool.Alloc, error) {
	policy := backoff.Policy{Min: r.cfg.RetryMinWait, Max: r.cfg.RetryMaxWait, Factor: 2, Jitter: 0.2}
	until := time.Now().Add(r.lease())
	for try := 0; ; try++ {
		a, err := c.Alloc(ctx, id)
		if err == nil {
			if _, err = a.Keepalive(ctx, r.lease()); err == nil {
				return a, nil
			}
		}
		if !ebb.Retryable(err) || ctx.Err() != nil || !time.Now().Before(until) {
			return nil, err
		}
		r.cfg.Logger.Warn("the cluster does not answer for an alloc of the earlier driver; asking again", "alloc", id, "try", try, "err", err)
		if err := policy.Sleep(ctx, try); err != nil {
			return nil, err
		}
	}
}

func (r *Runner) lease() time.Duration {
	if r.cfg.Keepalive.Lease > 0 {
		return r.cfg.Keepalive.Lease
	}
	return time.Minute
}

// hold records a as the primary.
func (r *Runner) hold(ctx context.Context, a pool.Alloc) {
	r.primary = a
	ref := refOf(ctx, a)
	r.update(func(s *State) {
		s.Primary = &ref
		s.Allocs++
	})
}

// evaluate runs the flow on the primary until it is done, fails, or the
// primary is lost.
func (r *Runner) evaluate(ctx context.Context) error {
	if r.primary == nil {
		// A driver resumed in Eval: get the primary back first.
		r.update(func(s *State) { s.Phase = PhaseInit; s.NumTries = max(0, s.NumTries-1) })
		return nil
	}
	before, err := loadHistory(ctx, r.cfg.Cache, r.cfg.Repository, r.cfg.Flow)
	if err != nil {
		r.cfg.Logger.Warn("what earlier runs learned is unreadable; learning it anew", "err", err)
	}
	s, err := r.stealer(before.Cluster)
	if err != nil {
		r.fail(err)
		return nil
	}
	var onDemand func()
	if s != nil {
		onDemand = s.Wake
	}
	// Looking a big flow up in the cache takes a while, before Work
	// keeps the primary's lease: keep it meanwhile, or it may run out.
	kctx, stopKeep := context.WithCancel(ctx)
	var keeping sync.WaitGroup
	if r.cfg.Cache != nil {
		keeping.Go(func() { _ = pool.Keepalive(kctx, r.primary, r.cfg.Keepalive) })
	}
	e, err := NewEval(ctx, r.graph, r.digests, EvalConfig{
		History:      before.Kinds,
		Sizes:        before.Sizes,
		SizeFit:      before.SizeFit,
		TaskDuration: before.TaskDuration,
		Cache:        r.cfg.Cache,
		Repository:   r.cfg.Repository,
		Paths:        r.paths,
		MaxExecs:     r.cfg.MaxExecs,
		Keepalive:    r.cfg.Keepalive,
		Logger:       r.cfg.Logger,
		Runs:         r.runs,
		OnDemand:     onDemand,
		Events:       r.cfg.Events,
		Status:       r.cfg.Status,
		Attached:     r.attached,
	})
	stopKeep()
	keeping.Wait()
	if err != nil {
		return err
	}
	r.attached = nil
	r.mu.Lock()
	r.eval = e
	r.mu.Unlock()
	werr := r.work(ctx, e, s)
	// What the tasks and the cluster took is kept for the next run, even
	// when this one was cancelled.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.FreeTimeout)
	after := history{Kinds: e.History(), Sizes: e.Sizes(), SizeFit: e.SizeFit(), TaskDuration: e.TaskDuration(), Cluster: before.Cluster}
	if s != nil {
		after.Cluster = s.Learned()
	}
	if err := saveHistory(hctx, r.cfg.Cache, r.cfg.Repository, r.cfg.Flow, after); err != nil {
		r.cfg.Logger.Warn("task durations not kept for the next run", "err", err)
	}
	cancel()
	select {
	case <-e.Done():
	default:
		r.ranBefore = e.markDone(r.ranBefore)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(werr, ebb.ErrExpired):
			r.lostPrimary()
			r.retryLater(werr)
		default:
			r.retryLater(werr)
		}
		return nil
	}
	if err := e.Err(); err != nil {
		r.fail(err)
		return nil
	}
	p := e.creditEarlier(r.ranBefore)
	r.update(func(s *State) {
		s.Result = &Result{Outputs: e.Outputs(), Tasks: p.Tasks, Ran: p.Done, Cached: p.Cached, Skipped: p.Skipped}
		s.Phase = PhaseDone
		s.Completion = time.Now()
	})
	r.cfg.Logger.Info("run succeeded", "run", r.state.ID, "ran", p.Done, "cached", p.Cached)
	return nil
}

func (r *Runner) lostPrimary() {
	r.primary = nil
	r.update(func(s *State) {
		s.account(s.Primary, time.Now())
		s.Primary = nil
	})
}

// finish frees what a Done run still holds: at once after a success, after
// Retain (counted from Completion) after a failure.
func (r *Runner) finish(ctx context.Context) error {
	if r.state.Primary == nil && len(r.state.Aux) == 0 {
		return nil
	}
	if r.primary == nil && r.state.Primary != nil {
		r.reattach(ctx)
	}
	if r.state.Err != "" && r.primary != nil {
		if wait := time.Until(r.state.Completion.Add(r.cfg.Retain)); wait > 0 {
			r.cfg.Logger.Info("keeping the failed run's primary alloc", "alloc", r.primary.ID(), "for", wait)
			kctx, cancel := context.WithTimeout(ctx, wait)
			err := pool.Keepalive(kctx, r.primary, r.cfg.Keepalive)
			cancel()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				r.cfg.Logger.Info("retained primary alloc lost", "err", err)
			}
		}
	}
	r.release(ctx)
	return nil
}

// release frees every alloc the run holds, within FreeTimeout.
func (r *Runner) release(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.FreeTimeout)
	defer cancel()
	r.freeAux(ctx)
	if r.primary == nil && r.state.Primary != nil {
		r.reattach(ctx)
	}
	if r.primary != nil {
		if err := r.primary.Free(ctx); err != nil && !errors.Is(err, ebb.ErrExpired) {
			r.cfg.Logger.Warn("free primary alloc", "alloc", r.primary.ID(), "err", err)
		}
		r.lostPrimary()
	}
}

func minTime(a, b time.Time) time.Time {
	if b.IsZero() || a.Before(b) {
		return a
	}
	return b
}
