package local

import (
	"context"
	"sync"
	"time"
)

// A killCtx is the context an exec runs under: a func exec's ctx, and the
// one its inputs are staged and its outputs stored under. It is done when
// the exec is killed (by Kill, Remove, Free, expiry or Close), and only
// then: the context of the Put that started the exec lends it its values
// (trace spans, loggers) but not its cancellation, since an exec outlives
// the call that started it.
//
// It lives inside its exec, so that an in-process exec that never looks
// at ctx.Done costs no allocation for it (context.WithCancel costs two and
// a lock shared with every sibling). It is safe for concurrent use; mu
// guards done and err.
type killCtx struct {
	parent context.Context // for Value only, unless call is set

	mu   sync.Mutex
	done chan struct{} // made on the first Done, closed by cancel
	err  error         // context.Canceled once cancelled
	// call is set for an exec run by Call: parent's cancellation is
	// its too, watched (by stop's AfterFunc) only once Done is asked
	// for, so that a func that never looks costs nothing for it.
	// Cleared by unwatch.
	call bool
	stop func() bool
}

var _ context.Context = (*killCtx)(nil)

// Deadline reports no deadline: an exec is bounded by its alloc's lease,
// which Keepalive moves, not by a fixed time.
func (c *killCtx) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done returns a channel that is closed when the exec is killed.
func (c *killCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		switch {
		case c.err != nil:
			close(c.done)
		case c.call && c.parent.Err() != nil:
			c.cancelLocked()
		case c.call && c.parent.Done() != nil:
			c.stop = context.AfterFunc(c.parent, func() { c.cancel() })
		}
	}
	return c.done
}

// Err returns context.Canceled once the exec was killed, nil before.
func (c *killCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && c.call && c.parent.Err() != nil {
		c.cancelLocked()
	}
	return c.err
}

// unwatch stops taking parent's cancellation for this context's.
func (c *killCtx) unwatch() {
	c.mu.Lock()
	stop := c.stop
	c.call, c.stop = false, nil
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// Value returns the value of the Put call's context for key. It goes
// through context.WithoutCancel so that the context package does not take
// the parent's cancellation for this context's (context.Cause would).
func (c *killCtx) Value(key any) any {
	if c.parent == nil {
		return nil
	}
	return context.WithoutCancel(c.parent).Value(key)
}

// cancel marks the context done. It reports whether this call did it.
func (c *killCtx) cancel() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cancelLocked()
}

func (c *killCtx) cancelLocked() bool {
	if c.err != nil {
		return false
	}
	c.err = context.Canceled
	if c.done != nil {
		close(c.done)
	}
	return true
}

// String helps debugging, as the context package's own contexts do.
func (c *killCtx) String() string { return "local.execContext" }
