package remote

import (
	"context"
	"errors"
	"sync"
	"time"
)

// maxAcceptKeys bounds how many Accept keys a server remembers; past it,
// the oldest finished ones are forgotten first.
const maxAcceptKeys = 4096

// acceptMemory makes Accept idempotent: the first request with a key
// runs the Accept, and every later request with that key, within the
// window, gets the same answer (waiting for it if the first is still at
// work). A client retrying an Accept whose answer was lost thus gets the
// alloc it took rather than a second one, which would leak until its
// lease lapsed. Answers that are context errors are not remembered: the
// retry runs the Accept anew.
//
// The zero value with a window is ready to use. mu guards calls and order.
type acceptMemory struct {
	window time.Duration

	mu    sync.Mutex
	calls map[string]*acceptCall
	order []*acceptCall // by start time, oldest first
}

type acceptCall struct {
	key   string
	start time.Time
	done  chan struct{} // closed when res and err are set
	res   allocWire
	err   error
}

// do runs f once for key, or returns what it returned for key before.
// An empty key runs f every time. Waiting for another request's answer
// ends when ctx is done.
func (m *acceptMemory) do(ctx context.Context, key string, f func() (allocWire, error)) (allocWire, error) {
	if key == "" {
		return f()
	}
	now := time.Now()
	m.mu.Lock()
	m.prune(now)
	if c, ok := m.calls[key]; ok {
		m.mu.Unlock()
		select {
		case <-c.done:
			return c.res, c.err
		case <-ctx.Done():
			return allocWire{}, ctx.Err()
		}
	}
	c := &acceptCall{key: key, start: now, done: make(chan struct{})}
	if m.calls == nil {
		m.calls = make(map[string]*acceptCall)
	}
	m.calls[key] = c
	m.order = append(m.order, c)
	m.mu.Unlock()

	c.res, c.err = f()
	if errors.Is(c.err, context.Canceled) || errors.Is(c.err, context.DeadlineExceeded) {
		m.mu.Lock()
		if m.calls[key] == c {
			delete(m.calls, key)
		}
		m.mu.Unlock()
	}
	close(c.done)
	return c.res, c.err
}

// prune forgets the calls older than the window, and the oldest finished
// ones beyond maxAcceptKeys. The caller holds mu.
func (m *acceptMemory) prune(now time.Time) {
	drop := 0
	for _, c := range m.order {
		old := now.Sub(c.start) >= m.window
		if !old && (len(m.order)-drop < maxAcceptKeys || !finished(c)) {
			break
		}
		if m.calls[c.key] == c {
			delete(m.calls, c.key)
		}
		drop++
	}
	m.order = m.order[drop:]
}

func finished(c *acceptCall) bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}
