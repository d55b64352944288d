package stealer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// This file holds what the loop's goroutines do: one per request, which
// asks the cluster, and then works and frees the alloc it is granted; and
// one per alloc taken over. Each ends with one last message to the loop.

// request starts r's goroutine. ctx is Run's.
func (l *loop) request(ctx context.Context, r *request) {
	rctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	l.live++
	l.wg.Go(func() { l.allocate(ctx, rctx, r) })
}

// adopt takes over a, an alloc granted before Run started.
func (l *loop) adopt(ctx context.Context, a pool.Alloc) {
	h := &holding{alloc: a, res: a.Resources(), since: time.Now()}
	l.held[a.ID()] = h
	l.emit(ctx, Event{Kind: EventGranted, AllocID: a.ID(), Resources: h.res.Clone(),
		Reason: fmt.Sprintf("took over alloc %s (%s)", a.ID(), h.res)})
	l.live++
	l.wg.Go(func() { l.work(ctx, a) })
}

// allocate asks the cluster for r, records the alloc it is granted
// (OnAcquire), and works it, unless r was given up meanwhile. An OnAcquire
// that fails counts as a failed allocation: the alloc is freed unused.
func (l *loop) allocate(ctx, rctx context.Context, r *request) {
	start := time.Now()
	a, err := l.cfg.Cluster.Allocate(rctx, r.req, l.cfg.Labels)
	r.cancel()
	if err == nil && a == nil {
		err = fmt.Errorf("cluster granted a nil alloc: %w", ebb.ErrUnavailable)
	}
	if err != nil {
		l.msgs <- msg{kind: msgFailed, req: r, err: err}
		return
	}
	latency := time.Since(start)
	if !r.tryGrant(ctx) {
		l.msgs <- msg{kind: msgDiscarded, req: r, alloc: a, err: l.free(ctx, a)}
		return
	}
	if l.cfg.OnAcquire != nil {
		if err := l.cfg.OnAcquire(ctx, a); err != nil {
			err = fmt.Errorf("alloc %s granted, but OnAcquire failed, so it was freed unused: %w", a.ID(), err)
			if ferr := l.free(ctx, a); ferr != nil {
				err = fmt.Errorf("%w; and %w", err, ferr)
			}
			l.release(ctx, a.ID())
			l.msgs <- msg{kind: msgFailed, req: r, err: err}
			return
		}
	}
	l.msgs <- msg{kind: msgGranted, req: r, alloc: a, latency: latency}
	l.work(ctx, a)
}

// work has the evaluation work on a until its Work returns, and only then
// frees it and forgets it (OnRelease).
func (l *loop) work(ctx context.Context, a pool.Alloc) {
	m := msg{kind: msgReleased, alloc: a}
	var err error
	if ctx.Err() != nil {
		// Run ended before work began: starting work only to have it
		// interrupted would take tasks and put them back.
		err = ctx.Err()
		m.why = "run ended"
	} else {
		err = l.ev.Work(ctx, a)
		m.why, m.failed = l.whyReturned(ctx, err)
	}
	m.workErr = err
	m.lost = errors.Is(err, ebb.ErrExpired)
	m.err = l.free(ctx, a)
	l.release(ctx, a.ID())
	l.msgs <- m
}

// release calls OnRelease, with a context that outlives ctx by at most
// FreeTimeout.
func (l *loop) release(ctx context.Context, id string) {
	if l.cfg.OnRelease == nil {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.cfg.FreeTimeout)
	defer cancel()
	l.cfg.OnRelease(rctx, id)
}

// whyReturned says why Work returned err, and whether that is a failure
// (neither the evaluation's end, nor the run's, nor a loss, nor a drain).
func (l *loop) whyReturned(ctx context.Context, err error) (why string, failed bool) {
	select {
	case <-l.ev.Done():
		if err == nil || ctx.Err() != nil {
			return "evaluation done", false
		}
	default:
	}
	switch {
	case errors.Is(err, ebb.ErrExpired):
		return "lost", false
	case ctx.Err() != nil:
		return "run ended", false
	case err == nil:
		return "drained and idle", false
	}
	return fmt.Sprintf("work failed: %v", err), true
}

// free frees a, even when ctx is done, within FreeTimeout. An alloc that is
// gone already is not an error.
func (l *loop) free(ctx context.Context, a pool.Alloc) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.cfg.FreeTimeout)
	defer cancel()
	err := a.Free(fctx)
	if err == nil || errors.Is(err, ebb.ErrExpired) || errors.Is(err, ebb.ErrNotExist) {
		return nil
	}
	return fmt.Errorf("free alloc %s: %w", a.ID(), err)
}
