package clustertest

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool"
)

// Cluster is a fake [cluster.Cluster] whose Allocate calls the test
// answers one by one: every call shows up as a [Request] (see Next), and
// blocks until the test grants or fails it, or its context is done. Its
// Pool methods are those of the pool it was made over, which is also where
// Request.Grant takes allocs from, so they are real allocs that run execs.
//
// A Cluster is safe for concurrent use. One mutex guards its queue; it is
// never held while a Request is answered. Make one with New.
type Cluster struct {
	pool.Pool

	mu       sync.Mutex
	queue    []*Request    // arrived, not yet returned by Next
	live     []*Request    // arrived, neither answered nor cancelled, in order
	arrivedc chan struct{} // closed and replaced at every arrival
	closed   bool
}

var _ cluster.Cluster = (*Cluster)(nil)

// New returns a Cluster over p, which it does not own: the test closes p.
// It panics when p is nil.
func New(p pool.Pool) *Cluster {
	if p == nil {
		panic("clustertest.New: nil pool")
	}
	return &Cluster{Pool: p, arrivedc: make(chan struct{})}
}

// Allocate queues a Request for the test and blocks until the test answers
// it or ctx is done. It returns what the test answered: the granted alloc,
// or the error given to Fail. When ctx is done first, the request is
// cancelled (see Request.Cancelled) and Allocate returns an error wrapping
// ctx's, having taken nothing; an answer given at that very moment wins.
// It fails at once with ebb.ErrInvalid for a malformed req or labels, and
// with ebb.ErrClosed after Close.
func (c *Cluster) Allocate(ctx context.Context, req ebb.Requirements, labels ebb.Labels) (pool.Alloc, error) {
	meta := pool.AllocMeta{Want: req, Labels: labels}
	if err := meta.Validate(); err != nil {
		return nil, fmt.Errorf("clustertest: allocate: %w", err)
	}
	r := &Request{
		Want:    ebb.Requirements{Min: req.Min.Clone(), Width: req.Width},
		Labels:  labels.Clone(),
		c:       c,
		answerc: make(chan answer, 1),
		donec:   make(chan struct{}),
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("clustertest: allocate %s: %w", req, ebb.ErrClosed)
	}
	c.queue = append(c.queue, r)
	c.live = append(c.live, r)
	close(c.arrivedc)
	c.arrivedc = make(chan struct{})
	c.mu.Unlock()

	select {
	case a := <-r.answerc:
		return a.alloc, a.err
	case <-ctx.Done():
	}
	if r.end(stateCancelled, answer{}) {
		return nil, fmt.Errorf("clustertest: allocate %s: %w", req, ctx.Err())
	}
	a := <-r.answerc // answered just now
	return a.alloc, a.err
}

// Next returns the next Request in the order they arrived, waiting for one
// until ctx is done. It returns cancelled requests too, so that a test
// sees them (see Request.Cancelled). After Close, once the queue is empty,
// it fails with ebb.ErrClosed.
func (c *Cluster) Next(ctx context.Context) (*Request, error) {
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			r := c.queue[0]
			c.queue = c.queue[1:]
			c.mu.Unlock()
			return r, nil
		}
		closed, arrivedc := c.closed, c.arrivedc
		c.mu.Unlock()
		if closed {
			return nil, fmt.Errorf("clustertest: next request: %w", ebb.ErrClosed)
		}
		select {
		case <-arrivedc:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Pending returns the requests that are neither answered nor cancelled, in
// the order they arrived, whether Next returned them or not. The caller
// owns the slice.
func (c *Cluster) Pending() []*Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.live)
}

// Close fails every pending request, and every later Allocate, with
// ebb.ErrClosed. It does not close the pool. Close is idempotent and
// returns nil.
func (c *Cluster) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	live := slices.Clone(c.live)
	close(c.arrivedc)
	c.arrivedc = make(chan struct{})
	c.mu.Unlock()
	for _, r := range live {
		r.end(stateAnswered, answer{err: fmt.Errorf("clustertest: allocate %s: %w", r.Want, ebb.ErrClosed)})
	}
	return nil
}

// forget drops r from the live requests.
func (c *Cluster) forget(r *Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live = slices.DeleteFunc(c.live, func(x *Request) bool { return x == r })
}
