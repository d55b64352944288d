package stealer

import (
	"slices"
	"time"

	"github.com/ebbflow/ebb"
)

// The next wave of a flow in the default policy: upcoming work that
// counts as waiting already, and the idle allocs it takes first.

// nextWave returns the upcoming work (Snapshot.Upcoming) that is expected
// ready within latency, so that it counts as waiting already: an alloc
// asked for now would arrive no sooner; untimed work only once every
// kind's duration is known (Critical.Ranked), and when it is likely
// ready within latency. It is net of the capacity that busy allocs
// leave free now, which the wave takes first when it comes.
func (d *Default) nextWave(s Snapshot, latency time.Duration) []ebb.Demand {
	var next []ebb.Demand
	for _, u := range s.Upcoming {
		if u.Count <= 0 || u.Follows {
			continue
		}
		if dueWithin(s, u, latency) {
			next = append(next, u.Demand)
		}
	}
	return netOfBusy(s, next)
}

// dueWithin reports whether upcoming work u counts as waiting already
// (see nextWave): timed and due within latency, or, once every kind's
// duration is known, likely due within it.
func dueWithin(s Snapshot, u Upcoming, latency time.Duration) bool {
	return !u.Untimed && u.In <= latency || u.Untimed && s.Critical.Ranked && u.Likely <= latency
}

// likelySoon returns the untimed upcoming work likely ready within
// latency (Upcoming.Likely).
func likelySoon(s Snapshot, latency time.Duration) []ebb.Demand {
	var out []ebb.Demand
	for _, u := range s.Upcoming {
		if u.Count > 0 && u.Untimed && !u.Follows && u.Likely <= latency {
			out = append(out, u.Demand)
		}
	}
	return out
}

// netOfBusy returns the demand less what the free capacity of busy allocs
// (and of allocs not yet working) takes.
func netOfBusy(s Snapshot, next []ebb.Demand) []ebb.Demand {
	if len(next) == 0 {
		return nil
	}
	var free []bin
	for _, hs := range [][]Held{s.Held, s.Others} {
		for _, h := range hs {
			// Idle allocs are not counted: whether they stay is
			// keepIdle's to say, from what is left.
			if h.Working && !h.Draining && (h.Running > 0 || h.IdleSince.IsZero()) {
				free = addBin(free, h.Free, 1)
			}
		}
	}
	rest, _ := placeBins(groups(next), free)
	out := make([]ebb.Demand, len(rest))
	for i, g := range rest {
		out[i] = ebb.Demand{Resources: g.shape, Count: g.count, Duration: g.dur, AtLeast: g.bound}
	}
	return out
}

// idleTakeNextWave places the next wave (the upcoming work due within the
// latency that the free capacity of busy allocs cannot take, see
// nextWave) on the idle allocs first, before the requests in flight and
// before asking how fast held capacity would start it: an idle alloc is
// here now, where a request comes a latency later at best, so an idle
// alloc the wave fits on is kept (its drain taken back) and what it
// takes is no longer credited to a request, which goes if nothing else
// needs it. Slots that busy allocs free later are not counted on: in a
// flow of chains they go to the tasks each step makes ready in turn,
// which the backlog's drain time (toBuy) cannot see. Nor is it asked
// whether held capacity would start the wave in time without them: an
// idle alloc costs its idle time only, and the head start it gives a
// wave is makespan on flows of waves, where a purchase, which pays a
// boot, would not be made for it (BENCHMARKS.md, "Keeping only the
// idle allocs that would be bought back"). It returns the rest of the
// wave and the drains left.
func (d *Default) idleTakeNextWave(s Snapshot, next []ebb.Demand, drains []Drain) ([]ebb.Demand, []Drain) {
	if len(next) == 0 {
		return next, drains
	}
	var idle []Held
	for _, h := range s.Held {
		if idleWorking(h) {
			idle = append(idle, h)
		}
	}
	if len(idle) == 0 {
		return next, drains
	}
	bins := make([]bin, len(idle))
	for i, h := range idle {
		bins[i] = bin{free: h.Free, n: 1}
	}
	rest, placed := placeBins(groups(next), bins)
	kept := make(map[string]bool)
	for i, h := range idle {
		if placed[i].placed > 0 {
			kept[h.ID] = true
		}
	}
	if len(kept) == 0 {
		return next, drains
	}
	drains = slices.DeleteFunc(slices.Clone(drains), func(dr Drain) bool { return kept[dr.AllocID] })
	out := make([]ebb.Demand, len(rest))
	for i, g := range rest {
		out[i] = ebb.Demand{Resources: g.shape, Count: g.count, Duration: g.dur, AtLeast: g.bound}
	}
	return out, drains
}
