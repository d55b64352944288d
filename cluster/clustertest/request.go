package clustertest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// Owner is the owner recorded in the allocs a Request grants.
const Owner = "clustertest"

// A Request is one Allocate call of a fake [Cluster], waiting for the test
// to answer it with Grant, GrantResources, GrantAlloc or Fail. Only the
// first answer counts: a later one, or one after Allocate gave up, fails
// with an error wrapping ebb.ErrClosed. A Request is safe for concurrent
// use.
type Request struct {
	// Want and Labels are what Allocate was called with. The test may
	// read them, and must not write them.
	Want   ebb.Requirements
	Labels ebb.Labels

	c       *Cluster
	answerc chan answer   // capacity 1: takes the one answer
	donec   chan struct{} // closed when answered or cancelled

	mu    sync.Mutex
	state state
}

type state int

const (
	statePending state = iota
	stateAnswered
	stateCancelled
)

type answer struct {
	alloc pool.Alloc
	err   error
}

// end moves r out of pending with the given state and, when answered,
// hands Allocate the answer. It reports false when r was no longer
// pending.
func (r *Request) end(s state, a answer) bool {
	r.mu.Lock()
	if r.state != statePending {
		r.mu.Unlock()
		return false
	}
	r.state = s
	if s == stateAnswered {
		r.answerc <- a
	}
	close(r.donec)
	r.mu.Unlock()
	r.c.forget(r)
	return true
}

// Grant answers r with an alloc of r.Want taken from the cluster's pool:
// its best-fitting offer now (see pool.BestFit), sized by pool.Grant. It
// fails, answering nothing, with an error wrapping ebb.ErrResources when
// no offer holds r.Want.Min, and with one wrapping ebb.ErrClosed when r was
// answered or cancelled; then it takes nothing, or frees what it took.
// It returns the alloc, which Allocate returns too.
func (r *Request) Grant(ctx context.Context) (pool.Alloc, error) {
	return r.grant(ctx, r.Want)
}

// GrantResources answers r with an alloc of exactly res, taken from the
// cluster's pool as Grant does: for a test of code that must cope with
// less than it asked for. It fails with ebb.ErrInvalid when res does not
// hold r.Want.Min, since no Cluster may grant that.
func (r *Request) GrantResources(ctx context.Context, res ebb.Resources) (pool.Alloc, error) {
	if !r.Want.Min.Fits(res) {
		return nil, fmt.Errorf("clustertest: grant %s for a request of %s: below its Min: %w", res, r.Want, ebb.ErrInvalid)
	}
	return r.grant(ctx, ebb.Requirements{Min: res})
}

func (r *Request) grant(ctx context.Context, want ebb.Requirements) (pool.Alloc, error) {
	if !r.pending() {
		return nil, r.answeredErr()
	}
	offers, err := r.c.Offers(ctx)
	if err != nil {
		return nil, fmt.Errorf("clustertest: grant %s: %w", want, err)
	}
	o := pool.BestFit(offers, want.Min)
	if o == nil {
		return nil, fmt.Errorf("clustertest: grant %s: no offer of pool %s holds it: %w", want, r.c.ID(), ebb.ErrResources)
	}
	a, err := o.Accept(ctx, pool.AllocMeta{Want: want, Owner: Owner, Labels: r.Labels})
	if err != nil {
		return nil, fmt.Errorf("clustertest: grant %s: %w", want, err)
	}
	if !r.end(stateAnswered, answer{alloc: a}) {
		if ferr := a.Free(context.WithoutCancel(ctx)); ferr != nil && !errors.Is(ferr, ebb.ErrExpired) {
			return nil, errors.Join(r.answeredErr(), fmt.Errorf("clustertest: free the alloc taken for it: %w", ferr))
		}
		return nil, r.answeredErr()
	}
	return a, nil
}

// GrantAlloc answers r with a, which the test took itself (from any pool).
// It fails with an error wrapping ebb.ErrClosed when r was answered or
// cancelled; then a stays the caller's.
func (r *Request) GrantAlloc(a pool.Alloc) error {
	if a == nil {
		return fmt.Errorf("clustertest: grant a nil alloc: %w", ebb.ErrInvalid)
	}
	if !r.end(stateAnswered, answer{alloc: a}) {
		return r.answeredErr()
	}
	return nil
}

// Fail answers r with err, which Allocate returns as it is (so a test
// can give ebb.ErrResources or ebb.ErrUnavailable). It fails with an error
// wrapping ebb.ErrClosed when r was answered or cancelled, and with
// ebb.ErrInvalid for a nil err.
func (r *Request) Fail(err error) error {
	if err == nil {
		return fmt.Errorf("clustertest: fail a request with a nil error: %w", ebb.ErrInvalid)
	}
	if !r.end(stateAnswered, answer{err: err}) {
		return r.answeredErr()
	}
	return nil
}

// Done returns a channel closed once r is answered or cancelled.
func (r *Request) Done() <-chan struct{} { return r.donec }

// Cancelled reports whether Allocate gave up on r, its context done,
// before it was answered.
func (r *Request) Cancelled() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state == stateCancelled
}

func (r *Request) pending() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state == statePending
}

func (r *Request) answeredErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	what := "answered"
	if r.state == stateCancelled {
		what = "cancelled"
	}
	return fmt.Errorf("clustertest: request for %s: already %s: %w", r.Want, what, ebb.ErrClosed)
}
