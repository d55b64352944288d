package cluster

import (
	"cmp"
	"slices"

	"github.com/ebbflow/ebb"
)

// A Launching is a launch in flight as [Pack] sees it: the shape being
// launched, and what the requests already claiming it leave free.
type Launching struct {
	Shape Shape
	Free  ebb.Resources
}

// A Launch is what [Pack] decided for one worker: a new launch of Shape, or
// more claims on a launch already in flight.
type Launch struct {
	// Shape is the worker's shape.
	Shape Shape
	// Launching is the index, in Pack's launching, of the launch in
	// flight that Claims join, or -1 for a new launch.
	Launching int
	// Claims are the requests the worker will serve, in the order they
	// were placed: the first claim of a new launch is the one it was
	// opened for.
	Claims []Claim
}

// A Claim is a request's share of a launch: Width units of the request's
// Min, which the worker holds on top of every other claim.
type Claim struct {
	// Request is an index into Pack's wants: the Allocate call the
	// claim serves.
	Request int
	// Width is how many Min-sized units the request gets: at least 1, at
	// most max(1, Want.Width).
	Width int
}

// Limits bound what [Pack] may launch. The zero value launches nothing.
type Limits struct {
	// Launches is the most new launches.
	Launches int
	// Budget is the most that the Prices of the new launches may add up
	// to, per minute; math.Inf(1) for no cap.
	Budget float64
}

// Pack decides which requests the launches in flight will serve and which
// new workers to launch for the rest. It is a pure function of its
// arguments, which it does not modify; the result shares no memory with
// them.
//
// Pack is first-fit decreasing: it takes the requests by decreasing
// Want.Min (by [ebb.Resources.Size]; ties in request order) and places each
// in the first launch whose free resources hold its Min, the launches in
// flight first, then the new ones in the order they were opened. A placed
// request gets as many units of its Min as fit, up to its width. A request
// that fits no launch opens a new one, while limits allow: of the shapes
// whose Price fits the remaining budget, the cheapest that holds the
// request's Max, or, when none does, the cheapest of those holding the
// most units of its Min (ties by Resources.Size, then Name). A request
// that fits nowhere, or needs a launch that limits forbid, is left out:
// it appears in no Launch.
//
// The result lists the launches in flight that got claims first (in
// pending order), then the new launches in the order they were opened.
//
// Ordering by size packs well, but is unfair under tight limits: when only
// a few launches are allowed, the biggest requests get them, and a small
// request that arrived first waits (unless it fits in their spare room).
//
// Shapes must be valid (see [Shape.Validate]).
func Pack(wants []ebb.Requirements, shapes []Shape, launching []Launching, limits Limits) []Launch {
	type bin struct {
		launch Launch
		free   ebb.Resources
	}
	bins := make([]*bin, len(launching))
	for i, p := range launching {
		bins[i] = &bin{launch: Launch{Shape: p.Shape.clone(), Launching: i}, free: p.Free.Clone()}
	}
	order := make([]int, len(wants))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Compare(wants[b].Min.Size(), wants[a].Min.Size())
	})

	opened, budget := 0, limits.Budget
	for _, i := range order {
		want := wants[i]
		placed := false
		for _, b := range bins {
			if k := want.UnitsIn(b.free); k > 0 {
				b.launch.Claims = append(b.launch.Claims, Claim{Request: i, Width: k})
				b.free = b.free.Sub(want.Min.Scale(float64(k)))
				placed = true
				break
			}
		}
		if placed || opened >= limits.Launches {
			continue
		}
		si, k := PickShape(shapes, want, budget)
		if si < 0 {
			continue
		}
		s := shapes[si]
		opened++
		budget -= s.Price
		bins = append(bins, &bin{
			launch: Launch{Shape: s.clone(), Launching: -1, Claims: []Claim{{Request: i, Width: k}}},
			free:   s.Resources.Sub(want.Min.Scale(float64(k))),
		})
	}

	var out []Launch
	for _, b := range bins {
		if len(b.launch.Claims) > 0 {
			out = append(out, b.launch)
		}
	}
	return out
}

// PickShape returns the index in shapes of the shape a worker is
// launched on for want, within budget (the most its Price may be), and how
// many units of want.Min a worker of it grants (see
// [ebb.Requirements.UnitsIn]): of the shapes that hold want.Min, those
// holding the most units, and of those the cheapest (by Price, then
// Resources.Size, then Name). So the cheapest shape that holds want's Max
// wins when one does. It returns -1 and 0 when no shape within budget
// holds want.Min. [Pack] opens its launches with it, and the simulator
// (package sim) picks its workers' shapes with it.
func PickShape(shapes []Shape, want ebb.Requirements, budget float64) (index, units int) {
	index = -1
	for i, s := range shapes {
		if s.Price > budget*(1+ebb.Tolerance) {
			continue
		}
		k := want.UnitsIn(s.Resources)
		if k == 0 {
			continue
		}
		if index < 0 || k > units || k == units && cheaper(s, shapes[index]) {
			index, units = i, k
		}
	}
	return index, units
}

// cheaper orders shapes by price, then size, then name.
func cheaper(a, b Shape) bool {
	if c := cmp.Compare(a.Price, b.Price); c != 0 {
		return c < 0
	}
	if c := cmp.Compare(a.Resources.Size(), b.Resources.Size()); c != 0 {
		return c < 0
	}
	return a.Name < b.Name
}
