package stealer

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// Latency returns how long the policy expects an allocation to take, given
// s: the median of s.Latency (LatencyPrior when empty), raised to the age
// of the oldest request in flight.
func (d *Default) Latency(s Snapshot) time.Duration {
	est := d.typicalLatency(s)
	for _, p := range s.Pending {
		est = max(est, s.Now.Sub(p.Since))
	}
	return est
}

// typicalLatency returns the median of s.Latency, or LatencyPrior when
// it is empty.
func (d *Default) typicalLatency(s Snapshot) time.Duration {
	if len(s.Latency) == 0 {
		return d.cfg.LatencyPrior
	}
	xs := slices.Clone(s.Latency)
	slices.Sort(xs)
	n := len(xs)
	est := xs[n/2]
	if n%2 == 0 {
		est = xs[n/2-1] + (xs[n/2]-xs[n/2-1])/2
	}
	return max(est, 0)
}

// patience returns how much longer than an allocation takes a task may
// wait before the policy buys for it (see DefaultConfig.Patience), and,
// when it is none because the flow is wider than what is held, the
// reason's tail.
func (d *Default) patience(s Snapshot) (time.Duration, string) {
	if d.cfg.Patience > 0 {
		return d.cfg.Patience, ""
	}
	// Patience bets that the backlog is passing; when held capacity
	// cannot run the work left before the longest running chain ends,
	// the flow is wider than what is held, and every task that waits
	// past the latency waits on the makespan. Only when every kind's
	// duration is known (Critical.Ranked): else the running chain's end
	// is a lower bound, and the test too eager.
	if area, ok := workLeft(s); ok && s.Critical.Ranked && area > s.Critical.End {
		return 0, fmt.Sprintf(", no patience: held capacity runs the work left in %s, after the longest running chain ends in %s",
			fmtDur(area), fmtDur(s.Critical.End))
	}
	return min(4*d.typicalLatency(s), s.TaskDuration/2), ""
}

// IdleTimeout returns how long a held alloc may stay idle before the
// policy drains it, given s, and the number of re-buys that widened it.
// With a fixed DefaultConfig.IdleTimeout it is that timeout doubled by
// each re-buy, at most MaxWiden times it; by default it is MinIdleTimeout,
// and once a re-buy is remembered the latency estimate (at most
// MaxIdleTimeout).
func (d *Default) IdleTimeout(s Snapshot) (timeout time.Duration, rebuys int) {
	return d.idleTimeout(s, d.Latency(s))
}

func (d *Default) idleTimeout(s Snapshot, latency time.Duration) (time.Duration, int) {
	base, ceiling := d.cfg.IdleTimeout, time.Duration(0)
	if base > 0 {
		ceiling = base
		if w := time.Duration(max(1, d.cfg.MaxWiden)); base <= math.MaxInt64/w {
			ceiling = base * w
		} else {
			ceiling = math.MaxInt64
		}
	} else {
		base = min(d.cfg.MinIdleTimeout, d.cfg.MaxIdleTimeout)
		ceiling = max(base, min(latency, d.cfg.MaxIdleTimeout))
	}
	rebuys := d.rebuys(s, rebuyWindow(base, latency))
	if d.cfg.IdleTimeout == 0 && rebuys > 0 {
		// Seen to re-buy: keep idle allocs as long as a new one takes
		// to come, the break-even, at once rather than after a few
		// more re-buys of a boot each.
		return ceiling, rebuys
	}
	t := base
	for range rebuys {
		if t >= ceiling/2 {
			t = ceiling
			break
		}
		t *= 2
	}
	return t, rebuys
}

// rebuyWindow is how soon after a release an acquisition counts as
// buying it back (see rebuys): the latency, or twice the idle timeout's
// base when that is longer.
func rebuyWindow(base, latency time.Duration) time.Duration {
	if base > math.MaxInt64/2 {
		return latency
	}
	return max(latency, 2*base)
}

// baseIdle is the idle timeout before any re-buy widens it.
func (d *Default) baseIdle() time.Duration {
	if d.cfg.IdleTimeout > 0 {
		return d.cfg.IdleTimeout
	}
	return min(d.cfg.MinIdleTimeout, d.cfg.MaxIdleTimeout)
}

// rebuys counts the acquisitions of the last ThrashMemory that were asked
// for less than window after a release, each release re-bought at most
// once: ten allocs bought after one release are one re-buy, not ten.
// Going through s.Recent in time order (releases before acquisitions at
// the same moment), an acquisition re-buys the latest release before it
// that is recent enough and that no earlier acquisition re-bought.
func (d *Default) rebuys(s Snapshot, window time.Duration) int {
	changes := make([]Change, 0, len(s.Recent))
	for _, c := range s.Recent {
		if (c.Kind == Acquired || c.Kind == Released) && !c.Time.After(s.Now) {
			changes = append(changes, c)
		}
	}
	slices.SortStableFunc(changes, func(a, b Change) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return cmp.Compare(b.Kind, a.Kind) // Released (2) first
	})
	var released []time.Time // not re-bought yet, oldest first
	n := 0
	for _, c := range changes {
		if c.Kind == Released {
			released = append(released, c.Time)
			continue
		}
		k := len(released) - 1
		if k < 0 || c.Time.Sub(released[k]) >= window {
			// The latest release is too old, and so are the others.
			released = released[:0]
			continue
		}
		released = released[:k]
		if s.Now.Sub(c.Time) <= d.cfg.ThrashMemory {
			n++
		}
	}
	return n
}
