package stealer

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// Latency returns how long the policy expects an allocation to take, given
// s: the median latency of the recent requests, granted and cancelled
// (see typicalLatency), raised to the age of the oldest request in
// flight.
func (d *Default) Latency(s Snapshot) time.Duration {
	est := d.typicalLatency(s)
	for _, p := range s.Pending {
		est = max(est, s.Now.Sub(p.Since))
	}
	return est
}

// typicalLatency returns the median allocation latency of the recent
// requests. A request cancelled before its grant is a censored
// observation (its allocation would have taken longer than it waited),
// so the median is the Kaplan–Meier one of s.Latency and s.Cancelled: a
// request cancelled after waiting two minutes says as much as one
// granted after two minutes or more. With no grant seen, it is
// LatencyPrior, or, when a cancelled request waited longer than that,
// half as long again as the longest wait: a wait is only a lower bound,
// and the longer requests have waited, the longer they are likely to
// take, as Durations.Remaining says of tasks. When fewer than half the
// requests were granted before the others were cancelled, it is the
// longest wait seen (the median lies beyond it).
func (d *Default) typicalLatency(s Snapshot) time.Duration {
	if len(s.Latency) == 0 {
		longest := time.Duration(0)
		for _, c := range s.Cancelled {
			longest = max(longest, c)
		}
		if longest > d.cfg.LatencyPrior {
			return longest + longest/2
		}
		return d.cfg.LatencyPrior
	}
	return max(medianLatency(s.Latency, s.Cancelled), 0)
}

// medianLatency is the Kaplan–Meier median of the latencies granted and
// of the cancelled requests' waits (censored), granted is not empty.
// Where the curve is one half over an interval, as with an even number
// of grants and nothing cancelled, it is the interval's middle, the
// interval ending at the longest wait seen when no grant ends it.
func medianLatency(granted, cancelled []time.Duration) time.Duration {
	type obs struct {
		at      time.Duration
		granted bool
	}
	all := make([]obs, 0, len(granted)+len(cancelled))
	for _, g := range granted {
		all = append(all, obs{g, true})
	}
	for _, c := range cancelled {
		all = append(all, obs{c, false})
	}
	// A grant before a cancel of the same wait: the cancelled request
	// was still at risk of its grant then.
	slices.SortFunc(all, func(a, b obs) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		if a.granted == b.granted {
			return 0
		}
		if a.granted {
			return -1
		}
		return 1
	})
	const half, eps = 0.5, 1e-9
	surv := 1.0
	for i, o := range all {
		if !o.granted {
			continue
		}
		surv *= 1 - 1/float64(len(all)-i)
		if surv > half+eps {
			continue
		}
		if surv < half-eps {
			return o.at
		}
		// One half from here to the next grant, or past the longest
		// wait seen when none came: the middle.
		next := all[len(all)-1].at
		for _, n := range all[i+1:] {
			if n.granted {
				next = n.at
				break
			}
		}
		return o.at + (next-o.at)/2
	}
	return all[len(all)-1].at
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
