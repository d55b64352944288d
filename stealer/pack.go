package stealer

import (
	"cmp"
	"math"
	"slices"

	"github.com/ebbflow/ebb"
)

// A group is Count tasks of one shape, as in ebb.Demand, while a policy
// places and packs them.
type group struct {
	shape ebb.Resources
	count int
}

// groups returns the demand as groups: counts above 0 only, shapes merged
// when equal, largest first (by Size, ties broken by the shape's text so
// that the order never depends on the input's). The shapes are copies.
func groups(demand []ebb.Demand) []group {
	var out []group
	for _, d := range demand {
		if d.Count <= 0 {
			continue
		}
		i := slices.IndexFunc(out, func(g group) bool { return g.shape.Equal(d.Resources) })
		if i >= 0 {
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

// demandOf returns groups as ebb.Demand values, freshly allocated.
func demandOf(gs []group) []ebb.Demand {
	var out []ebb.Demand
	for _, g := range gs {
		if g.count > 0 {
			out = append(out, ebb.Demand{Resources: g.shape.Clone(), Count: g.count})
		}
	}
	return out
}

// tasks counts the tasks in gs.
func tasks(gs []group) int {
	n := 0
	for _, g := range gs {
		n += g.count
	}
	return n
}

// fitCount returns how many tasks of shape, at most n, fit in capacity c.
// A shape that needs nothing fits n times. Like Resources.Fits, it absorbs
// rounding of one part in 10⁹.
func fitCount(shape, c ebb.Resources, n int) int {
	k := float64(n)
	for key, v := range shape {
		if v <= 0 {
			continue
		}
		q := math.Floor(c[key]/v*(1+1e-9) + 1e-12)
		k = min(k, q)
	}
	return max(0, int(k))
}

// subInPlace takes k tasks of shape out of c, which the caller owns.
func subInPlace(c, shape ebb.Resources, k int) {
	for key, v := range shape {
		c[key] -= v * float64(k)
	}
}

// place puts the tasks of gs, largest shapes first, into the capacities
// bins, in order, as many as fit. It returns the tasks left over and, for
// each bin, the tasks placed in it. Neither gs nor bins is modified.
func place(gs []group, bins []ebb.Resources) (rest []group, placed []int) {
	free := make([]ebb.Resources, len(bins))
	for i, b := range bins {
		free[i] = b.Clone()
	}
	placed = make([]int, len(bins))
	for _, g := range gs {
		n := g.count
		for i := range free {
			if n == 0 {
				break
			}
			if k := fitCount(g.shape, free[i], n); k > 0 {
				subInPlace(free[i], g.shape, k)
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

// maxSlots bounds slots, so that a shape that needs nothing counts as
// fitting a great many times without overflowing.
const maxSlots = 1 << 30

// slots returns how many tasks of shape the capacities caps hold in all
// when each is filled with that shape alone, at most maxSlots.
func slots(shape ebb.Resources, caps []ebb.Resources) int {
	total := 0
	for _, c := range caps {
		total += fitCount(shape, c, maxSlots-total)
		if total >= maxSlots {
			break
		}
	}
	return total
}
