// Package backoff paces retries: exponential waits with jitter, bounded by
// a context.
//
// ebb does not use github.com/grailbio/base/retry for this: importing it
// pulls in v.io's logging, whose init registers nine flags (-v, -log_dir,
// ...) on the program's global flag set, and a library must not do that to
// the programs that embed it.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy is an exponential backoff: the n-th retry (from 0) waits Min ×
// Factor^n, at most Max, with the last Jitter fraction of it drawn at
// random so that clients that failed together do not retry together. The
// zero value retries at once. A Policy is a value, safe for concurrent use.
type Policy struct {
	Min, Max time.Duration
	Factor   float64
	Jitter   float64 // in [0, 1]
}

// Wait returns how long to wait before the n-th retry, counting from 0.
func (p Policy) Wait(n int) time.Duration {
	d := float64(p.Min)
	for i := 0; i < n && d < float64(p.Max); i++ {
		d *= p.Factor
	}
	d = min(d, float64(p.Max))
	if p.Jitter > 0 && d > 0 {
		j := p.Jitter * d
		d = d - j + rand.Float64()*j
	}
	return time.Duration(d)
}

// Sleep waits before the n-th retry, or until ctx is done, and then returns
// ctx's error. It uses a timer of the time package, so code under
// testing/synctest waits on the bubble's fake clock.
func (p Policy) Sleep(ctx context.Context, n int) error {
	t := time.NewTimer(p.Wait(n))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
