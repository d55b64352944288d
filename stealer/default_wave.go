package stealer

import (
	"cmp"
	"math"
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
// ready within latency. It returns it whole, and the part of it that
// would run at once (see atOnce), each net of the capacity that busy
// allocs leave free now, which the wave takes first when it comes.
func (d *Default) nextWave(s Snapshot, latency time.Duration) (whole, peak []ebb.Demand) {
	var untimed []ebb.Demand
	var timed []Upcoming
	for _, u := range s.Upcoming {
		if u.Count <= 0 || u.Follows || !dueWithin(s, u, latency) {
			continue
		}
		if u.Untimed {
			untimed = append(untimed, u.Demand)
		} else {
			timed = append(timed, u)
		}
		whole = append(whole, u.Demand)
	}
	return netOfBusy(s, whole), netOfBusy(s, append(untimed, atOnce(timed)...))
}

// atOnce returns the timed upcoming work of us that would run at the
// same moment, the moment that holds the most cpus: each entry's tasks
// from In (the latest any of them is ready) for their Duration and the
// chain each heads (Upcoming.Chain), to the end of time when Duration is
// only a lower bound (Demand.AtLeast).
func atOnce(us []Upcoming) []ebb.Demand {
	if len(us) == 0 {
		return nil
	}
	type edge struct {
		at  time.Duration
		w   float64 // cpus taken (+) or given back (−)
		end bool
	}
	ends := make([]time.Duration, len(us))
	edges := make([]edge, 0, 2*len(us))
	for i, u := range us {
		end := time.Duration(math.MaxInt64)
		if !u.AtLeast {
			end = max(u.In+u.Duration+u.Chain, u.In+1) // a task of no time still takes its slot
		}
		ends[i] = end
		w := float64(u.Count) * max(u.Resources[ebb.CPU], 1e-3) // a task of no cpu counts, barely
		edges = append(edges, edge{at: u.In, w: w}, edge{at: end, w: -w, end: true})
	}
	slices.SortFunc(edges, func(a, b edge) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		if a.end != b.end { // ends first: a slot given back is taken again
			if a.end {
				return -1
			}
			return 1
		}
		return 0
	})
	cur, best := 0.0, 0.0
	var peak time.Duration
	for _, e := range edges {
		cur += e.w
		if !e.end && cur > best {
			best, peak = cur, e.at
		}
	}
	var out []ebb.Demand
	for i, u := range us {
		if u.In <= peak && peak < ends[i] {
			out = append(out, u.Demand)
		}
	}
	return out
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
// alloc that the part of the wave running at once (peak) fits on is kept
// (its drain taken back); the whole wave takes the allocs kept first,
// and what they take is no longer credited to a request, which goes if
// nothing else needs it. Only what runs at once keeps allocs: tasks that
// come one after another over the latency, each done before the next is
// ready, need one slot between them, not one each. Slots that busy
// allocs free later are not counted on: in a flow of chains they go to
// the tasks each step makes ready in turn, which the backlog's drain
// time (toBuy) cannot see. Nor is it asked whether held capacity would
// start the wave in time without them: an idle alloc costs its idle time
// only, and the head start it gives a wave is makespan on flows of
// waves, where a purchase, which pays a boot, would not be made for it
// (BENCHMARKS.md, "Keeping only the idle allocs that would be bought
// back"). It returns the rest of the wave and the drains left.
func (d *Default) idleTakeNextWave(s Snapshot, whole, peak []ebb.Demand, drains []Drain) ([]ebb.Demand, []Drain) {
	if len(whole) == 0 {
		return whole, drains
	}
	var idle []Held
	for _, h := range s.Held {
		if idleWorking(h) {
			idle = append(idle, h)
		}
	}
	if len(idle) == 0 {
		return whole, drains
	}
	bins := make([]bin, len(idle))
	for i, h := range idle {
		bins[i] = bin{free: h.Free, n: 1}
	}
	_, placed := placeBins(groups(peak), bins)
	kept := make(map[string]bool)
	var keptBins []bin
	for i, h := range idle {
		if placed[i].placed > 0 {
			kept[h.ID] = true
			keptBins = append(keptBins, bin{free: h.Free, n: 1})
		}
	}
	if len(kept) == 0 {
		return whole, drains
	}
	drains = slices.DeleteFunc(slices.Clone(drains), func(dr Drain) bool { return kept[dr.AllocID] })
	rest, _ := placeBins(groups(whole), keptBins)
	out := make([]ebb.Demand, len(rest))
	for i, g := range rest {
		out[i] = ebb.Demand{Resources: g.shape, Count: g.count, Duration: g.dur, AtLeast: g.bound}
	}
	return out, drains
}
