package tracing

import (
	"context"
	"errors"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// alloc is an Alloc of a tracing cluster. Keepalive and Free are recorded
// as spans. Put, Exec, Execs, Remove and Inspect pass through without a
// span, since the runner's task spans (see Runs) already cover the execs,
// and a span per Put would double them; their errors are still looked at,
// so that an alloc they find expired is uncounted. ID and Resources pass
// through. Pool returns the tracing cluster, not the wrapped one, so that
// a caller that goes back to an alloc's pool (to re-attach, or to list its
// allocs) stays recorded.
type alloc struct {
	pool.Alloc
	c *tracingCluster
}

// Unwrap returns the wrapped cluster's alloc.
func (a *alloc) Unwrap() pool.Alloc { return a.Alloc }

// Pool returns the tracing cluster the alloc came from.
func (a *alloc) Pool() pool.Pool { return a.c }

// Keepalive records an ebb.Alloc.Keepalive span with the lease asked for
// and granted, in seconds. A renewal accrues the alloc's resource-minutes;
// an ebb.ErrExpired answer uncounts the alloc.
func (a *alloc) Keepalive(ctx context.Context, lease time.Duration) (time.Duration, error) {
	ctx, span := startSpan(ctx, a.c.tracer, spanKeepalive)
	if recording(span) {
		span.SetAttributes(a.c.poolAttr, keyAllocID.String(a.ID()), keyLeaseAsked.Float64(lease.Seconds()))
	}
	granted, err := a.Alloc.Keepalive(ctx, lease)
	if err != nil {
		a.lost(ctx, err)
		endSpan(span, err)
		return granted, err
	}
	a.c.ledger.renew(ctx, a.ID(), granted)
	if recording(span) {
		span.SetAttributes(keyLeaseGranted.Float64(granted.Seconds()))
	}
	endSpan(span, nil)
	return granted, nil
}

// Free records an ebb.Alloc.Free span and uncounts the alloc, once, when
// it is freed or was already gone (ebb.ErrExpired). Any other error leaves
// it counted: the alloc may still be there.
func (a *alloc) Free(ctx context.Context) error {
	ctx, span := startSpan(ctx, a.c.tracer, spanFree)
	if recording(span) {
		span.SetAttributes(a.c.poolAttr, keyAllocID.String(a.ID()))
	}
	err := a.Alloc.Free(ctx)
	if err == nil {
		a.c.ledger.release(ctx, a.ID(), false)
	} else {
		a.lost(ctx, err)
	}
	endSpan(span, err)
	return err
}

// Inspect passes through.
func (a *alloc) Inspect(ctx context.Context) (pool.AllocInspect, error) {
	in, err := a.Alloc.Inspect(ctx)
	a.lost(ctx, err)
	return in, err
}

// Put passes through.
func (a *alloc) Put(ctx context.Context, id pool.ExecID, cfg pool.ExecConfig) (pool.Exec, error) {
	x, err := a.Alloc.Put(ctx, id, cfg)
	a.lost(ctx, err)
	return x, err
}

// Exec passes through.
func (a *alloc) Exec(ctx context.Context, id pool.ExecID) (pool.Exec, error) {
	x, err := a.Alloc.Exec(ctx, id)
	a.lost(ctx, err)
	return x, err
}

// Execs passes through.
func (a *alloc) Execs(ctx context.Context) ([]pool.Exec, error) {
	xs, err := a.Alloc.Execs(ctx)
	a.lost(ctx, err)
	return xs, err
}

// Remove passes through.
func (a *alloc) Remove(ctx context.Context, id pool.ExecID) error {
	err := a.Alloc.Remove(ctx, id)
	a.lost(ctx, err)
	return err
}

// lost uncounts the alloc when err says it expired. Only ErrExpired says
// that about the alloc: an ErrNotExist from Exec or Remove is about an exec.
func (a *alloc) lost(ctx context.Context, err error) {
	if err != nil && a.c.ledger != nil && errors.Is(err, ebb.ErrExpired) {
		a.c.ledger.release(ctx, a.ID(), true)
	}
}
