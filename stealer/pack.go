package stealer

import (
	"cmp"
	"reflect"
	"slices"
	"time"

	"github.com/ebbflow/ebb"
)

// A group is Count tasks of one shape, as in ebb.Demand, while a policy
// places and packs them.
type group struct {
	shape ebb.Resources
	count int
	dur   time.Duration // expected run time of one task; 0: unknown
	bound bool          // dur is only a lower bound (0: just begun)
}

// timed reports whether g says anything of its tasks' run time: an
// estimate, or a bound (which may be 0, for kinds just begun).
func (g group) timed() bool { return g.dur > 0 || g.bound }

// groups returns the demand as groups: counts above 0 only, shapes merged
// when equal (their durations averaged by count, a bound making the mean
// a bound, an unknown one counting as unknown), largest first (by Size,
// ties broken by the shape's text so that the order never depends on the
// input's). The shapes are copies.
func groups(demand []ebb.Demand) []group {
	var out []group
	for _, d := range demand {
		if d.Count <= 0 {
			continue
		}
		i := slices.IndexFunc(out, func(g group) bool { return g.shape.Equal(d.Resources) })
		if i >= 0 {
			g := &out[i]
			if g.timed() && (d.Duration > 0 || d.AtLeast) {
				g.dur = (g.dur*time.Duration(g.count) + max(0, d.Duration)*time.Duration(d.Count)) / time.Duration(g.count+d.Count)
				g.bound = g.bound || d.AtLeast
			} else {
				g.dur, g.bound = 0, false
			}
			g.count += d.Count
			continue
		}
		out = append(out, group{shape: d.Resources.Clone(), count: d.Count, dur: max(0, d.Duration), bound: d.AtLeast})
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
			out = append(out, ebb.Demand{Resources: g.shape.Clone(), Count: g.count, Duration: g.dur, AtLeast: g.bound})
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

// fitCount returns how many tasks of shape, at most n, fit in capacity c
// (ebb.Requirements.UnitsIn). A shape that needs nothing fits n times.
func fitCount(shape, c ebb.Resources, n int) int {
	if n <= 0 {
		return 0
	}
	return ebb.Requirements{Min: shape, Width: n}.UnitsIn(c)
}

// subInPlace takes k tasks of shape out of c, which the caller owns.
func subInPlace(c, shape ebb.Resources, k int) {
	for key, v := range shape {
		c[key] -= v * float64(k)
	}
}

// A bin is n capacities in a row that are alike: each has free left, and
// placed tasks were put in each. Runs of equal capacities (a thousand
// allocs of one shape, a hundred requests alike) are one bin, so that
// placing work costs time in the number of runs, not of allocs.
type bin struct {
	free   ebb.Resources
	n      int
	placed int
}

// addBin appends n capacities of c to bins, merging them with the last
// bin when it holds the same. It keeps c, which must not change while
// bins is used; place copies what it changes.
func addBin(bins []bin, c ebb.Resources, n int) []bin {
	if n <= 0 {
		return bins
	}
	if k := len(bins) - 1; k >= 0 && bins[k].placed == 0 && equal(bins[k].free, c) {
		bins[k].n += n
		return bins
	}
	return append(bins, bin{free: c, n: n})
}

// equal reports whether a and b hold the same. Allocs granted alike often
// share one map (the simulator hands out one per shape), and a plan looks
// at every alloc held, so the maps are compared by identity before key by
// key.
func equal(a, b ebb.Resources) bool {
	return sameMap(a, b) || a.Equal(b)
}

// sameMap reports whether a and b are the same map.
func sameMap(a, b ebb.Resources) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// count returns the capacities in bins.
func count(bins []bin) int {
	n := 0
	for _, b := range bins {
		n += b.n
	}
	return n
}

// place puts the tasks of gs, largest shapes first, into the capacities
// caps, in order, as many as fit. It returns the tasks left over and, for
// each capacity, the tasks placed in it. Neither gs nor caps is modified.
func place(gs []group, caps []ebb.Resources) (rest []group, placed []int) {
	bins := make([]bin, len(caps))
	for i, c := range caps {
		bins[i] = bin{free: c, n: 1}
	}
	rest, out := placeBins(gs, bins)
	placed = make([]int, 0, len(caps))
	for _, b := range out {
		for range b.n {
			placed = append(placed, b.placed)
		}
	}
	return rest, placed
}

// fitsAll reports whether every task of gs fits at once on the capacities
// caps, placed as place would: largest shapes first, each shape's tasks
// on the capacities in order, as many as fit in each. It copies a
// capacity only once a task goes on it, and a shape stops at the last
// capacity it needs, so that it costs time in the capacities the tasks
// take, not in all of them (a plan may hold thousands). Neither gs nor
// caps is modified.
func fitsAll(gs []group, caps []ebb.Resources) bool {
	var rooms []ebb.Resources // rooms[i], once copied, is what caps[i] has left
	for _, g := range gs {
		n := g.count
		for i := 0; i < len(caps) && n > 0; i++ {
			c := caps[i]
			if i < len(rooms) && rooms[i] != nil {
				c = rooms[i]
			}
			per := fitCount(g.shape, c, n)
			if per == 0 {
				continue
			}
			if i >= len(rooms) {
				rooms = append(rooms, make([]ebb.Resources, i+1-len(rooms))...)
			}
			if rooms[i] == nil {
				rooms[i] = caps[i].Clone()
			}
			subInPlace(rooms[i], g.shape, per)
			n -= per
		}
		if n > 0 {
			return false
		}
	}
	return true
}

// placeBins puts the tasks of gs, largest shapes first, into the capacities of
// bins, in order, as many as fit in each: the result is the same as
// placing them one capacity at a time, but a run of alike capacities takes
// its share at once, and splits where the tasks run out. It returns the
// tasks left over and the bins after placing, in the same order, holding
// as many capacities. Neither gs nor bins is modified.
func placeBins(gs []group, bins []bin) (rest []group, out []bin) {
	out = make([]bin, len(bins))
	for i, b := range bins {
		out[i] = bin{free: b.free.Clone(), n: b.n, placed: b.placed}
	}
	for _, g := range gs {
		n := g.count
		for i := 0; i < len(out) && n > 0; i++ {
			b := &out[i]
			per := fitCount(g.shape, b.free, n)
			if per == 0 {
				continue
			}
			full := b.n
			if n/per < full {
				full = n / per
			}
			if full == b.n { // every capacity of the run takes per
				subInPlace(b.free, g.shape, per)
				b.placed += per
				n -= per * b.n
				continue
			}
			// The tasks run out inside the run: full capacities take
			// per, one more takes what is left, the rest take none.
			var parts []bin
			if full > 0 {
				f := b.free.Clone()
				subInPlace(f, g.shape, per)
				parts = append(parts, bin{free: f, n: full, placed: b.placed + per})
			}
			untouched := b.n - full
			if left := n - full*per; left > 0 {
				f := b.free.Clone()
				subInPlace(f, g.shape, left)
				parts = append(parts, bin{free: f, n: 1, placed: b.placed + left})
				untouched--
			}
			if untouched > 0 {
				parts = append(parts, bin{free: b.free, n: untouched, placed: b.placed})
			}
			out = slices.Replace(out, i, i+1, parts...)
			n = 0
		}
		if n > 0 {
			rest = append(rest, group{shape: g.shape, count: n, dur: g.dur, bound: g.bound})
		}
	}
	return rest, out
}

// maxSlots bounds slots, so that a shape that needs nothing counts as
// fitting a great many times without overflowing.
const maxSlots = 1 << 30

// slots returns how many tasks of shape the capacities of caps hold in all
// when each is filled with that shape alone, at most maxSlots.
func slots(shape ebb.Resources, caps []bin) int {
	total := 0
	for _, c := range caps {
		per := fitCount(shape, c.free, maxSlots)
		if per == 0 {
			continue
		}
		if per >= (maxSlots-total)/c.n+1 {
			return maxSlots
		}
		total += per * c.n
		if total >= maxSlots {
			return maxSlots
		}
	}
	return total
}

// grantCap returns what the cluster seems to cut requests down to, or nil
// when there is no such evidence. The evidence is a grant smaller than
// the request it granted asked for (Change.Asked), or, where the asks are
// not known, two or more allocs asked for at the same moment (in one
// plan, so that all but the last of a shape asked for MaxWidth units) and
// granted exactly the same: a cluster that cuts requests to what a node
// holds grants them all that one size. A grant of all it asked for says
// nothing: taking the largest one for a limit would make the policy buy
// several small allocs where one would do. Of several such sizes among
// the acquisitions in s.Recent, the largest (by Size) is taken.
func grantCap(s Snapshot) ebb.Resources {
	var acq []Change
	for _, c := range s.Recent {
		if c.Kind == Acquired {
			acq = append(acq, c)
		}
	}
	slices.SortStableFunc(acq, func(a, b Change) int { return a.Time.Compare(b.Time) })
	var best ebb.Resources
	bestSize := 0.0
	for _, c := range acq {
		r := c.Resources
		if c.Asked == nil || r.IsZero() || equal(r, c.Asked) || !r.Fits(c.Asked) {
			continue
		}
		if size := r.Size(); best == nil || size > bestSize {
			best, bestSize = r, size
		}
	}
	for i := 0; i < len(acq); {
		j := i + 1
		for j < len(acq) && acq[j].Time.Equal(acq[i].Time) {
			j++
		}
		for a := i; a < j; a++ {
			r := acq[a].Resources
			if r.IsZero() || (best != nil && equal(r, best)) {
				continue
			}
			for b := a + 1; b < j; b++ {
				if equal(r, acq[b].Resources) {
					if size := r.Size(); best == nil || size > bestSize {
						best, bestSize = r, size
					}
					break
				}
			}
		}
		i = j
	}
	return best
}

// credit returns how many units of unit a request of the given width is
// expected to be granted: all of them, unless the cluster's cut (see
// grantCap) holds fewer, and at least one.
func credit(unit ebb.Resources, width int, grant ebb.Resources) int {
	if grant == nil {
		return width
	}
	if u := fitCount(unit, grant, width); u > 0 {
		return u
	}
	return width
}

// newRequest is a request being packed.
type newRequest struct {
	min   ebb.Resources
	width int // units asked for
	used  int // units the tasks it is for fill
	// room is how many units it is expected to get: the tasks it is for
	// fill at most that many, though it may ask for more (width).
	room   int
	serves []group // the tasks it is for
}

// pack packs the tasks of buy into at most limit requests, each expected
// to be granted what credit says. A new request's unit is its tasks'
// shape, padded to what the tasks of pad need (see padded) when a node
// holds as many units so padded. It returns the requests and the number
// of tasks that did not fit.
func (d *Default) pack(buy []group, limit int, grant ebb.Resources, nodes []ebb.Resources, pad []group) (reqs []*newRequest, left int) {
	for _, g := range buy {
		n := g.count
		// Join a request whose unit fits the shape.
		for _, r := range reqs {
			if n == 0 {
				break
			}
			room := r.room - r.used
			if room <= 0 || !g.shape.Fits(r.min) {
				continue
			}
			per := max(1, fitCount(g.shape, r.min, maxSlots))
			units := min(room, (n+per-1)/per)
			take := min(n, units*per)
			r.used += units
			r.width = max(r.width, r.used)
			r.serves = addGroup(r.serves, g.shape, take)
			n -= take
		}
		w := d.maxWidth(g.shape, nodes)
		unit := g.shape
		if p := padded(g.shape, pad); !sameMap(p, g.shape) && d.maxWidth(p, nodes) >= min(n, w) {
			unit = p
		}
		room := credit(unit, w, grant)
		for n > 0 && len(reqs) < limit {
			units := min(n, room)
			reqs = append(reqs, &newRequest{
				min: unit, width: min(n, w), used: units, room: room,
				serves: []group{{shape: g.shape, count: units}},
			})
			n -= units
		}
		left += n
	}
	return reqs, left
}

// maxWidth returns how many units of shape one request may ask for: at
// most MaxWidth, its Max within MaxRequest, and, when the cluster said
// what its nodes hold, no more than the roomiest node holds, since a
// wider request would be cut down to a node anyway.
func (d *Default) maxWidth(shape ebb.Resources, nodes []ebb.Resources) int {
	w := d.cfg.MaxWidth
	if d.cfg.MaxRequest != nil {
		w = fitCount(shape, d.cfg.MaxRequest, w)
	}
	if len(nodes) > 0 {
		most := 0
		for _, n := range nodes {
			most = max(most, fitCount(shape, n, w))
		}
		if most > 0 {
			w = most
		}
	}
	return max(1, w)
}

func addGroup(gs []group, shape ebb.Resources, n int) []group {
	for i := range gs {
		if gs[i].shape.Equal(shape) {
			gs[i].count += n
			return gs
		}
	}
	return append(gs, group{shape: shape, count: n})
}

// padded returns shape with its memory and disk raised to the most that a
// task of pad needs which takes as many cpus and fits the shape in all
// else: a unit that holds any such task waiting beside the ones it is
// bought for. Placement sends an alloc the tasks that rank highest, not
// the ones it was bought for, and a unit sized to the smaller of two
// tasks of a kind (their inputs differ) holds fewer of the larger: its
// other cpus would idle until the next round. It returns shape itself
// when nothing pads it.
func padded(shape ebb.Resources, pad []group) ebb.Resources {
	out := shape
	for _, g := range pad {
		if !slotOf(g.shape, shape) {
			continue
		}
		for _, k := range [...]string{ebb.Mem, ebb.Disk} {
			if q := g.shape[k]; q > out[k] {
				if sameMap(out, shape) {
					out = shape.Clone()
				}
				out[k] = q
			}
		}
	}
	return out
}

// slotOf reports whether a task of r takes one unit of shape once the
// unit's memory and disk are raised: it needs as many cpus, and no more
// of anything else.
func slotOf(r, shape ebb.Resources) bool {
	if r[ebb.CPU] != shape[ebb.CPU] {
		return false
	}
	for k, v := range r {
		if k != ebb.Mem && k != ebb.Disk && !(ebb.Resources{k: v}).Fits(ebb.Resources{k: shape[k]}) {
			return false
		}
	}
	return true
}
