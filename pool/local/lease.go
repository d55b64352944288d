package local

import (
	"context"
	"fmt"
	"time"

	"github.com/ebbflow/ebb"
)

// startLease gives a new alloc its first lease. The timer is made under
// the alloc's mutex so that an expire due at once finds it set.
func (a *alloc) startLease(lease time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.expires = a.created.Add(lease)
	a.timer = time.AfterFunc(lease, a.expire)
}

// Keepalive sets the lease to end lease from now, capped at
// Config.MaxLease, and returns the lease granted. A lease shorter than
// what is left shortens it. It fails with ebb.ErrInvalid when lease is not
// positive and with ebb.ErrExpired once the alloc's end has begun.
func (a *alloc) Keepalive(ctx context.Context, lease time.Duration) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if lease <= 0 {
		return 0, fmt.Errorf("local: keepalive alloc %s: lease %v: must be positive: %w", a.id, lease, ebb.ErrInvalid)
	}
	lease = min(lease, a.p.cfg.MaxLease)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state.Load() != live {
		return 0, a.expired()
	}
	now := time.Now()
	a.lastKeepalive = now
	a.expires = now.Add(lease)
	a.timer.Reset(lease)
	return lease, nil
}

// expire is the lease timer's function. A timer that fired while a
// Keepalive was moving the lease finds the lease not yet due and leaves
// the alloc alone; the Reset has already scheduled the next call.
func (a *alloc) expire() {
	a.mu.Lock()
	if time.Now().Before(a.expires) {
		a.mu.Unlock()
		return
	}
	end, ok := a.beginEndLocked(fmt.Errorf("local: alloc %s: lease lapsed at %v: %w", a.id, a.expires.Round(0), ebb.ErrExpired))
	a.mu.Unlock()
	if ok {
		a.end(end)
	}
}
