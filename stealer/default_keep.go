package stealer

import (
	"fmt"
	"slices"
	"time"

	"github.com/ebbflow/ebb"
)

// Which idle allocs the default policy keeps rather than drains: those
// the backlog, or work about to come, would be placed on.

// keepIdle takes back the drains of idle allocs that the backlog (ready
// and upcoming work, see nextWave) needs: drained, they would be bought
// again within an allocation's latency (toBuy, with them gone, buys for
// work that fits them), which costs a boot and the wait for it where
// keeping them costs at most that latency idle. Work upcoming at a moment
// nobody can tell yet (Upcoming.Untimed) keeps allocs as long as they
// have been idle less than twice the latency: the ski-rental rule, which
// never pays more than twice what knowing the moment would have, where
// buying back costs twice the latency: the boot paid for nothing, and
// the wait of the work that comes meanwhile, which holds the alloc's
// capacity idle as long. Such work of kinds whose durations are known
// keeps the allocs that it would buy back when it comes (as the backlog
// does; it comes when what it waits on ends, so held capacity's running
// tasks are taken as done, and each task holds its slot for the chain
// it heads too); work of durations unknown keeps each alloc it fits on
// that the free capacity of busy allocs leaves it, however fast held
// capacity may run it: a kind not seen yet would be timed by the
// tasks of other kinds that finished, and a wave of it then often not
// bought for in time. Work, timed or not, due past the latency by more
// than the window in which buying it back counts as a re-buy (see
// rebuyWindow) keeps nothing, unless it may come within it: what it
// waits on ends that soon one time in four (Upcoming.Soon), a mean
// being no moment for a kind whose durations spread widely; such work
// keeps, as untimed work of durations unknown does, each alloc it fits
// on that the free capacity of busy allocs leaves it, until idle twice
// the latency. While the work left, list-scheduled on
// what is held, ends after the longest running chain (Critical.Packed
// past Critical.End), the flow needs more than is held and every held
// cpu has work to come: work due within that horizon, within the latency
// too, keeps every alloc it fits on, the free capacity of busy allocs
// counted on for none of it (the chains behind the work, and the work
// behind them, come for that capacity). It returns the drains left and a
// Keep, with why, for each taken back.
func (d *Default) keepIdle(s Snapshot, backlog []group, drains []Drain, latency time.Duration) ([]Drain, []Keep) {
	if len(drains) == 0 {
		return drains, nil
	}
	// Work due a little after a new alloc could arrive keeps them too:
	// released, they would be bought back (ahead of it, once it is
	// due within the latency) within the window that counts a re-buy,
	// which is thrashing. In is a guess built from estimates, timed or
	// not, that moves by seconds from one snapshot to the next, so the
	// window is the re-buy window (see rebuyWindow), not a margin of
	// the idle timeout. Work due past that horizon keeps nothing.
	horizon := latency + rebuyWindow(d.baseIdle(), latency)
	var later, untimed, due, early []ebb.Demand
	var known, unknown []ebb.Demand // untimed work of durations known, and the rest
	for _, u := range s.Upcoming {
		switch {
		case u.Count <= 0 || u.Follows: // a chain takes its head's slot
		case u.In > horizon && !u.Untimed && u.Soon > 0 && u.Soon <= horizon:
			early = append(early, u.Demand)
		case u.In > horizon:
		case u.Untimed:
			untimed = append(untimed, u.Demand)
			if u.Duration > 0 && !u.AtLeast {
				// Each task holds its slot for the chain it heads too.
				k := u.Demand
				k.Duration += u.Chain
				known = append(known, k)
			} else {
				unknown = append(unknown, u.Demand)
			}
		case u.In > latency:
			later = append(later, u.Demand)
		default:
			due = append(due, u.Demand)
		}
	}
	var keeps []Keep
	keep := func(after []Drain, why string) {
		keeps = append(keeps, keepsOf(drains, after, why)...)
		drains = after
	}
	keep(d.keepFor(s, withDemand(backlog, later), drains, drains, latency),
		"drained, it would be bought back for work waiting or due within a latency and a re-buy window")
	if c := s.Critical; c.End > 0 && c.Packed > c.End {
		// The work left packs past the longest running chain's end on
		// what is held: the flow needs more than is held, so every
		// alloc the work due within the horizon fits on is kept, not
		// bought back for it a latency before it comes. Busy allocs'
		// free capacity is not counted on: work that it would take
		// when it comes makes more ready behind it, for which a
		// drained alloc would be bought back.
		keep(takeYoung(s, append(append(slices.Clone(due), later...), untimed...), drains, drains),
			"work due within a latency and a re-buy window would start on it, and held capacity runs the work left past the longest running chain's end")
	}
	// Untimed work, and work that may come within the horizon, keep
	// the allocs idle less than twice the latency.
	if len(untimed) == 0 && len(early) == 0 || len(drains) == 0 {
		return drains, keeps
	}
	idleSince := make(map[string]time.Time, len(s.Held))
	for _, h := range s.Held {
		idleSince[h.ID] = h.IdleSince
	}
	candidates := slices.DeleteFunc(slices.Clone(drains), func(dr Drain) bool {
		return s.Now.Sub(idleSince[dr.AllocID]) >= 2*latency
	})
	if len(candidates) > 0 {
		// Work whose durations are known keeps what it would be
		// bought again for when it comes (as the backlog does, see
		// keepFor): it comes when what it waits on ends, so held
		// capacity's running tasks are taken to be done by then.
		// Work of durations unknown keeps what it fits on, however
		// fast it may run.
		arrived := s
		arrived.Remaining = 0
		keep(d.keepFor(arrived, groups(known), drains, candidates, latency),
			"work whose moment nobody can tell yet would buy it back when it comes: kept until idle twice an allocation's latency")
		keep(takeYoung(s, netOfBusy(s, unknown), drains, candidates),
			"work whose moment nobody can tell yet, of durations unknown, would start on it: kept until idle twice an allocation's latency")
		keep(takeYoung(s, netOfBusy(s, early), drains, candidates),
			"work that may be ready within a latency and a re-buy window (what it waits on ends that soon one time in four) would start on it: kept until idle twice an allocation's latency")
	}
	return drains, keeps
}

// keepsOf returns a Keep, saying why, for each drain of before that after
// no longer holds. The reason holds no figure that moves from one
// snapshot to the next, so that it changes only when the cause does.
func keepsOf(before, after []Drain, why string) []Keep {
	if len(after) == len(before) {
		return nil
	}
	left := make(map[string]bool, len(after))
	for _, dr := range after {
		left[dr.AllocID] = true
	}
	var out []Keep
	for _, dr := range before {
		if !left[dr.AllocID] {
			out = append(out, Keep{AllocID: dr.AllocID, Reason: fmt.Sprintf("kept alloc %s: %s", dr.AllocID, why)})
		}
	}
	return out
}

// withDemand returns backlog with more demand merged in (see groups).
func withDemand(backlog []group, more []ebb.Demand) []group {
	if len(more) == 0 {
		return backlog
	}
	all := make([]ebb.Demand, 0, len(backlog)+len(more))
	for _, g := range backlog {
		all = append(all, ebb.Demand{Resources: g.shape, Count: g.count, Duration: g.dur, AtLeast: g.bound})
	}
	return groups(append(all, more...))
}

// keepFor returns drains less those of candidates that backlog needs: it
// asks toBuy what it would buy with every drain carried out, and places
// that on the candidates' allocs, in order.
func (d *Default) keepFor(s Snapshot, backlog []group, drains, candidates []Drain, latency time.Duration) []Drain {
	if len(backlog) == 0 || len(candidates) == 0 {
		return drains
	}
	b := d.toBuy(s, backlog, drains, latency)
	if len(b.buy) == 0 {
		return drains
	}
	return keepPlaced(s, b.buy, drains, candidates, func(h Held) ebb.Resources { return h.Resources })
}

// takeYoung places work on the free room of the allocs of candidates, in
// order, and returns drains less those of the candidates it fits on.
func takeYoung(s Snapshot, work []ebb.Demand, drains, candidates []Drain) []Drain {
	if len(work) == 0 {
		return drains
	}
	return keepPlaced(s, groups(work), drains, candidates, func(h Held) ebb.Resources { return h.Free })
}

// keepPlaced places work on the allocs of candidates, in order, each
// offering room(its Held), and returns drains less those of the
// candidates that took some of it: the one copy of "keep the idle allocs
// this work would use" that keepFor and takeYoung share.
func keepPlaced(s Snapshot, work []group, drains, candidates []Drain, room func(Held) ebb.Resources) []Drain {
	res := make(map[string]ebb.Resources, len(s.Held))
	for _, h := range s.Held {
		res[h.ID] = room(h)
	}
	bins := make([]bin, len(candidates))
	for i, dr := range candidates {
		bins[i] = bin{free: res[dr.AllocID], n: 1}
	}
	_, placed := placeBins(work, bins)
	kept := make(map[string]bool)
	for i, dr := range candidates {
		if placed[i].placed > 0 {
			kept[dr.AllocID] = true
		}
	}
	return slices.DeleteFunc(slices.Clone(drains), func(dr Drain) bool { return kept[dr.AllocID] })
}
