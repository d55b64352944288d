package pool

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/backoff"
)

// KeepaliveConfig configures [Keepalive]. The zero value uses the defaults.
type KeepaliveConfig struct {
	// Lease is asked for at every renewal. Renewals come at half the lease
	// the pool granted, so one lost renewal never lapses the lease.
	// Default: 1 minute.
	Lease time.Duration
	// MinWait and MaxWait pace renewals after a transient error, for as
	// long as the last granted lease still runs: the first retry waits
	// MinWait, each next one twice as long, up to MaxWait. Defaults:
	// 100 ms and 5 s.
	MinWait, MaxWait time.Duration
}

// Keepalive renews a's lease until ctx is done, and then returns ctx's
// error. It returns earlier, with an error wrapping [ebb.ErrExpired], when
// the alloc is lost: the pool says it is gone, or transient errors or an
// unanswered renewal lasted until the last lease granted had run out. Any
// other error (a malformed call) is returned as it is. Keepalive starts no
// goroutine; callers run it in one of theirs.
func Keepalive(ctx context.Context, a Alloc, cfg KeepaliveConfig) error {
	lease := cfg.Lease
	if lease <= 0 {
		lease = time.Minute
	}
	policy := backoff.Policy{Min: cfg.MinWait, Max: cfg.MaxWait, Factor: 2, Jitter: 0.2}
	if policy.Min <= 0 {
		policy.Min = 100 * time.Millisecond
	}
	if policy.Max < policy.Min {
		policy.Max = max(policy.Min, 5*time.Second)
	}
	expires := time.Now().Add(lease)
	timer := time.NewTimer(0)
	defer timer.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		// A renewal that hangs past the lease it was meant to extend
		// cannot save the alloc: bound it by the lease left, so a frozen
		// peer is noticed when its lease runs out, whatever the pool's
		// own timeouts.
		callCtx, cancel := context.WithDeadline(ctx, expires)
		granted, err := a.Keepalive(callCtx, lease)
		hung := errors.Is(callCtx.Err(), context.DeadlineExceeded)
		cancel()
		now := time.Now()
		if err != nil && ctx.Err() == nil && hung {
			return fmt.Errorf("keepalive alloc %s: renewal still unanswered when the lease ran out at %s: %w",
				a.ID(), expires.Format(time.RFC3339), lostErr(err))
		}
		switch {
		case err == nil:
			failures = 0
			expires = now.Add(granted)
			timer.Reset(max(granted/2, time.Millisecond))
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case errGone(err):
			return fmt.Errorf("keepalive alloc %s: gone: %w", a.ID(), lostErr(err))
		case !ebb.Retryable(err):
			return fmt.Errorf("keepalive alloc %s: %w", a.ID(), err)
		}
		wait := policy.Wait(failures)
		failures++
		if now.Add(wait).After(expires) {
			return fmt.Errorf("keepalive alloc %s: lease ran out at %s after %d failed renewals: %w",
				a.ID(), expires.Format(time.RFC3339), failures, lostErr(err))
		}
		timer.Reset(wait)
	}
}

// lostErr makes sure err wraps ebb.ErrExpired, keeping what it wrapped.
func lostErr(err error) error {
	if errors.Is(err, ebb.ErrExpired) {
		return err
	}
	return fmt.Errorf("%w: %w", ebb.ErrExpired, err)
}
