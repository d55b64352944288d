package policytest

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

// Check returns every way plan p breaks an invariant for snapshot s, under
// rules; none when it keeps them all. The package documentation lists the
// invariants. Check does not change s or p.
func Check(s stealer.Snapshot, p stealer.Plan, rules Rules) []string {
	var bad []string
	badf := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	// Without Expect, a request counts at the most it can get (Max),
	// except where that would make a complaint: a cancelled one counts
	// at the least (Min).
	expected, least := func(r ebb.Requirements) ebb.Resources { return r.Max() }, func(r ebb.Requirements) ebb.Resources { return r.Min }
	if rules.Expect != nil {
		expected = func(r ebb.Requirements) ebb.Resources { return rules.Expect(s, r) }
		least = expected
	}

	// Drains: only held allocs that work, run nothing, and drain not yet;
	// each once.
	heldByID := map[string]stealer.Held{}
	for _, h := range s.Held {
		heldByID[h.ID] = h
	}
	drained := map[string]bool{}
	for _, dr := range p.Drain {
		h, ok := heldByID[dr.AllocID]
		switch {
		case !ok:
			badf("drains %s, which the stealer does not hold", dr.AllocID)
		case h.Running > 0:
			badf("drains busy alloc %s (running %d)", h.ID, h.Running)
		case !h.Working:
			badf("drains alloc %s, which does not work yet", h.ID)
		case h.Draining:
			badf("drains alloc %s again", h.ID)
		}
		if drained[dr.AllocID] {
			badf("drains %s twice", dr.AllocID)
		}
		drained[dr.AllocID] = true
		if dr.Reason == "" {
			badf("drain of %s has no reason", dr.AllocID)
		}
	}

	// Keeps: only held allocs, each once, none drained.
	keeps := map[string]bool{}
	for _, k := range p.Keep {
		if _, ok := heldByID[k.AllocID]; !ok {
			badf("keeps %s, which the stealer does not hold", k.AllocID)
		} else if drained[k.AllocID] {
			badf("keeps %s and drains it", k.AllocID)
		}
		if keeps[k.AllocID] {
			badf("keeps %s twice", k.AllocID)
		}
		keeps[k.AllocID] = true
		if k.Reason == "" {
			badf("keep of %s has no reason", k.AllocID)
		}
	}

	// Cancels: only requests in flight, each once.
	cancelled := map[stealer.RequestID]bool{}
	for _, c := range p.Cancel {
		if !slices.ContainsFunc(s.Pending, func(q stealer.Pending) bool { return q.ID == c.ID }) {
			badf("cancels %s, which is not in flight", c.ID)
		}
		if cancelled[c.ID] {
			badf("cancels %s twice", c.ID)
		}
		cancelled[c.ID] = true
		if c.Reason == "" {
			badf("cancel of %s has no reason", c.ID)
		}
	}
	kept := 0
	for _, q := range s.Pending {
		if !cancelled[q.ID] {
			kept++
		}
	}

	// Acquires: valid, with reasons, within the limits. The tasks that
	// wait are the demand and the upcoming work that asks for a slot of
	// its own (a policy may buy ahead of a wave it can time).
	total := 0
	var shapes []ebb.Resources
	wanted := slices.Clone(s.Demand)
	for _, u := range s.Upcoming {
		if !u.Follows {
			wanted = append(wanted, u.Demand)
		}
	}
	for _, dm := range wanted {
		if dm.Count > 0 {
			total += dm.Count
			shapes = append(shapes, dm.Resources)
		}
	}
	asked := 0
	for _, a := range p.Acquire {
		r := a.Requirements
		if err := r.Validate(); err != nil {
			badf("acquires invalid %s: %v", r, err)
		}
		if a.Reason == "" {
			badf("acquire of %s has no reason", r)
		}
		if rules.DemandShapes && !demandShape(r.Min, shapes) {
			badf("acquires Min %s, which no waiting task has", r.Min)
		}
		if rules.MaxWidth > 0 && (r.Width < 1 || r.Width > rules.MaxWidth) {
			badf("acquires width %d, outside 1..MaxWidth %d", r.Width, rules.MaxWidth)
		}
		if rules.MaxRequest != nil && !r.Max().Fits(rules.MaxRequest) && (r.Width > 1 || r.Min.Fits(rules.MaxRequest)) {
			badf("acquires %s (max %s), beyond MaxRequest %s", r, r.Max(), rules.MaxRequest)
		}
		if !rules.ForDemand {
			continue
		}
		n := 0
		for _, f := range a.For {
			n += f.Count
			if !f.Resources.Fits(r.Min) {
				badf("acquires %s for tasks of %s, which do not fit a unit", r, f.Resources)
			}
		}
		if left, _ := place(groups(a.For), []ebb.Resources{expected(r)}); len(left) > 0 {
			badf("acquires %s for %v, which it is not expected to hold (%s)", r, a.For, expected(r))
		}
		if n == 0 {
			badf("acquires %s for no task", r)
		}
		asked += n
	}
	if n := len(p.Acquire); n > 0 {
		if rules.MaxPending > 0 && kept+n > rules.MaxPending {
			badf("%d requests in flight after the plan, beyond MaxPending %d", kept+n, rules.MaxPending)
		}
		if rules.MaxAllocs > 0 && len(s.Held)+kept+n > rules.MaxAllocs {
			badf("%d allocs held and asked for after the plan, beyond MaxAllocs %d", len(s.Held)+kept+n, rules.MaxAllocs)
		}
	}
	if !rules.ForDemand {
		return bad
	}
	if total == 0 && len(p.Acquire) > 0 {
		badf("acquires %d allocs with nothing waiting", len(p.Acquire))
	}
	if asked > total {
		badf("acquires for %d tasks, only %d wait", asked, total)
	}

	// No cancel of what the demand left over would use. The demand is
	// already net of the allocs that work; what does not work yet, and
	// the requests kept (oldest first), take their share.
	var bins []ebb.Resources
	for _, h := range s.Held {
		if !h.Working && !h.Draining {
			bins = append(bins, h.Free)
		}
	}
	byAge := slices.Clone(s.Pending)
	slices.SortStableFunc(byAge, func(a, b stealer.Pending) int { return a.Since.Compare(b.Since) })
	for _, q := range byAge {
		if !cancelled[q.ID] {
			bins = append(bins, expected(q.Requirements))
		}
	}
	rest, _ := place(groups(s.Demand), bins)
	for _, q := range s.Pending {
		if !cancelled[q.ID] {
			continue
		}
		for _, g := range rest {
			if fitCount(g.shape, least(q.Requirements), 1) > 0 {
				badf("cancels %s (%s) although %d tasks of %s that fit it are left unmet", q.ID, q.Requirements, g.count, g.shape)
			}
		}
	}
	return bad
}

// demandShape reports whether min is one of shapes, its memory and disk
// perhaps each raised to what another of as many cpus needs (see
// Rules.DemandShapes).
func demandShape(min ebb.Resources, shapes []ebb.Resources) bool {
	base := func(r ebb.Resources) ebb.Resources {
		out := r.Clone()
		delete(out, ebb.Mem)
		delete(out, ebb.Disk)
		return out
	}
	raisedTo := func(k string) bool {
		return min[k] == 0 || slices.ContainsFunc(shapes, func(d ebb.Resources) bool {
			return d[ebb.CPU] == min[ebb.CPU] && d[k] == min[k]
		})
	}
	return slices.ContainsFunc(shapes, func(d ebb.Resources) bool {
		return d.Equal(min) || (base(d).Equal(base(min)) && d.Fits(min) && raisedTo(ebb.Mem) && raisedTo(ebb.Disk))
	})
}

// A group is count tasks of one shape.
type group struct {
	shape ebb.Resources
	count int
}

// groups returns the demand as groups: counts above 0 only, equal shapes
// merged, largest first (by Size, then by text), as the default policy
// orders them.
func groups(demand []ebb.Demand) []group {
	var out []group
	for _, d := range demand {
		if d.Count <= 0 {
			continue
		}
		if i := slices.IndexFunc(out, func(g group) bool { return g.shape.Equal(d.Resources) }); i >= 0 {
			out[i].count += d.Count
			continue
		}
		out = append(out, group{shape: d.Resources.Clone(), count: d.Count})
	}
	slices.SortStableFunc(out, func(a, b group) int {
		if c := cmp.Compare(b.shape.Size(), a.shape.Size()); c != 0 {
			return c
		}
		return cmp.Compare(a.shape.String(), b.shape.String())
	})
	return out
}

// place puts the tasks of gs, in order, into the capacities caps, in
// order, as many as fit in each, and returns the tasks left over and how
// many went into each capacity. It changes neither.
func place(gs []group, caps []ebb.Resources) (rest []group, placed []int) {
	free := make([]ebb.Resources, len(caps))
	for i, c := range caps {
		free[i] = c.Clone()
	}
	placed = make([]int, len(caps))
	for _, g := range gs {
		n := g.count
		for i := range free {
			if n == 0 {
				break
			}
			if k := fitCount(g.shape, free[i], n); k > 0 {
				for key, v := range g.shape {
					free[i][key] -= v * float64(k)
				}
				placed[i] += k
				n -= k
			}
		}
		if n > 0 {
			rest = append(rest, group{shape: g.shape, count: n})
		}
	}
	return rest, placed
}

// fitCount returns how many tasks of shape, at most n, fit in capacity c,
// as every part of ebb counts them (ebb.Requirements.UnitsIn).
func fitCount(shape, c ebb.Resources, n int) int {
	if n <= 0 {
		return 0
	}
	return ebb.Requirements{Min: shape, Width: n}.UnitsIn(c)
}
