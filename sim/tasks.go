package sim

import (
	"cmp"
	"math"
	"slices"

	"github.com/ebbflow/ebb/internal/placement"
)

// arrive records that task i has arrived.
func (e *engine) arrive(i int32) {
	e.progressAt = e.now
	if e.waiting[i]--; e.waiting[i] == 0 {
		e.ready(i)
	}
}

// ready puts task i in its shape's queue.
func (e *engine) ready(i int32) {
	t := &e.tasks[i]
	t.readyAt = e.now
	s := t.shape
	s.q.Push(i, e.taskRank[i])
	if s.kinds == nil {
		s.kinds = map[int32]int{}
	}
	s.kinds[e.kindOf[i]]++
	if e.sizes.Any() {
		if s.units == nil {
			s.units = map[int32]float64{}
		}
		s.units[e.kindOf[i]] += e.sizes.Of(i)
	}
	if !s.listed {
		s.listed = true
		k, _ := slices.BinarySearchFunc(e.readyShapes, s, func(a, b *tshape) int { return cmp.Compare(a.rank, b.rank) })
		e.readyShapes = slices.Insert(e.readyShapes, k, s)
	}
	e.readyN++
	e.waitingCPU += s.cpu
	e.placeDirty = true
}

// place starts ready tasks on the allocs that hold them, as runner.Eval
// does: shapes largest first, or, when every kind's duration was known at
// the start (ranksTimed), the shape whose next task has the highest
// upward rank first, the larger among equal ranks; each task to the alloc
// with the least free capacity that holds it (best fit), as many at once
// as fit there, and within a shape by rank; each task that fits no
// alloc's free room reserves one that holds it whole, which no later
// shape's task takes (see reserve); once ranksTimed, a shape's next task
// whose best fit is an auxiliary alloc it would keep alive alone goes to
// the primary, or waits for it, and then so does the rest of its shape,
// which is no demand meanwhile (see longTask).
func (e *engine) place() {
	if !e.placeDirty {
		return
	}
	e.placeDirty = false
	order := e.readyShapes
	if e.ranksTimed {
		e.byRank = append(e.byRank[:0], e.readyShapes...)
		slices.SortStableFunc(e.byRank, func(a, b *tshape) int {
			return cmp.Compare(e.taskRank[b.q.Peek()], e.taskRank[a.q.Peek()])
		})
		order = e.byRank
	}
	reserved := e.reserved[:0]
shapes:
	for si, s := range order {
		s.forPrimary = false
		for head := true; s.len() > 0; head = false {
			a := e.free.bestFit(s.vec, s.size)
			if a == nil {
				// Only the shapes after it are kept off a
				// reservation: past the last, none is made.
				if si < len(order)-1 {
					var all bool
					if reserved, all = e.reserve(s, reserved); all {
						break shapes
					}
				}
				break
			}
			if e.ranksTimed && a.aux && head {
				switch e.longTask(s.q.Peek(), a) {
				case placement.OnPrimary:
					a = e.primary
				case placement.Wait:
					s.forPrimary = true
				}
				if s.forPrimary {
					break
				}
			}
			n := max(1, count(s.vec, a.free, s.len()))
			e.free.remove(a)
			for range n {
				e.start(s.q.Pop(), a)
			}
			e.free.insert(a)
		}
	}
	e.free.endReserve()
	for _, a := range reserved {
		a.reserved = false
		e.free.insert(a)
	}
	e.reserved = reserved[:0]
	e.readyShapes = slices.DeleteFunc(e.readyShapes, func(s *tshape) bool {
		if s.len() > 0 {
			return false
		}
		s.listed = false
		return true
	})
}

// reserve has the ready tasks of s, which fit no alloc's free room,
// reserve an alloc each, as runner.Eval's placement does
// (placement.Reserve): of the allocs that take tasks and hold one whole,
// those with the most free capacity, the newest first among equals. Only
// the allocs filed in the free index need it: one with nothing free has
// the least room (it is reserved last) and takes no task anyway. When
// every alloc that takes tasks holds s, the free index reserves them
// where they are filed (freeIndex.reserveTop); else each is taken out of
// it until the placement ends. It returns reserved with those it took
// out appended, and whether no alloc is left unreserved with room: then
// no other task can be placed.
func (e *engine) reserve(s *tshape, reserved []*alloc) ([]*alloc, bool) {
	k := s.len()
	e.takersNow()
	if fits(s.vec, e.takersMin) && !e.free.taken {
		return reserved, !e.free.reserveTop(k) || e.free.held >= e.free.n
	}
	start := len(reserved)
	reserved = e.free.takeTop(reserved)
	e.free.taken = true
	cands := e.free.roomiest(e.cands[:0], k, func(a *alloc) bool { return fits(s.vec, a.res) })
	slices.SortFunc(cands, func(a, b *alloc) int { return cmp.Compare(a.num, b.num) })
	e.cands = cands
	e.picked = placement.Reserve(e.picked[:0], len(cands), k,
		func(int) bool { return true },
		func(i int) float64 { return cands[i].bucket.size })
	for _, i := range e.picked {
		reserved = append(reserved, cands[i])
	}
	for _, a := range reserved[start:] {
		a.reserved = true
		e.free.remove(a)
	}
	return reserved, false
}

// takersNow makes takersMin, the least that an alloc that takes tasks
// (the primary and the held allocs not draining) holds, by dimension,
// anew when one came, went or was drained since.
func (e *engine) takersNow() {
	if !e.takersDirty && e.takersMin != nil {
		return
	}
	e.takersDirty = false
	e.takersMin = append(e.takersMin[:0], e.primary.res...)
	for _, h := range e.held {
		if !h.draining {
			for d, q := range h.res {
				e.takersMin[d] = min(e.takersMin[d], q)
			}
		}
	}
}

// start runs task i on a, which is out of the free index.
func (e *engine) start(i int32, a *alloc) {
	t := &e.tasks[i]
	s := t.shape
	t.on = a
	if len(e.waitSince) > 0 {
		delete(e.waitSince, i)
	}
	s.kinds[e.kindOf[i]]--
	if s.units != nil {
		s.units[e.kindOf[i]] -= e.sizes.Of(i)
	}
	e.startedAt[i] = e.now
	e.kinds[e.kindOf[i]].running++
	e.runningSet[i/64] |= 1 << (i % 64)
	for d, q := range s.vec {
		a.free[d] = snap(a.free[d] - q)
	}
	if a.running == 0 {
		a.everRan = true
	}
	a.running++
	e.touch(a)
	e.running++
	e.readyN--
	e.waitingCPU -= s.cpu
	e.busyCPU += s.cpu
	e.waits = append(e.waits, (e.now - t.readyAt).Seconds())
	if a.aux {
		e.acc.busyAux += s.cpu * t.dur.Seconds()
	}
	e.progressAt = e.now
	e.q.push(e.now+t.dur, evFinish, i)
}

// finish records that task i is done; it reports whether that released a
// drained alloc.
func (e *engine) finish(i int32) bool {
	t := &e.tasks[i]
	s := t.shape
	a := t.on
	t.on = nil
	e.free.remove(a)
	for d, q := range s.vec {
		a.free[d] = snap(a.free[d] + q)
	}
	a.running--
	if a.running == 0 {
		a.idleSince = e.now
	}
	e.touch(a)
	e.running--
	e.busyCPU -= s.cpu
	e.remaining--
	if e.runLeft[t.run]--; e.runLeft[t.run] == 0 && t.run == e.curRun {
		e.nextRun()
	}
	e.progressAt = e.now
	e.kinds[e.kindOf[i]].running--
	e.runningSet[i/64] &^= 1 << (i % 64)
	expected := e.learned(i, t.dur)
	if e.taskAvg == 0 {
		e.taskAvg = t.dur
	} else {
		e.taskAvg += (t.dur - e.taskAvg) / 8
	}
	for _, c := range e.dependents[e.depStart[i]:e.depStart[i+1]] {
		e.lineage[c] = e.lineage[c].Pass(e.lineage[i], t.dur, expected, int(e.deps[c]))
		if e.waiting[c]--; e.waiting[c] == 0 {
			e.ready(c)
		}
	}
	if a.draining {
		if a.running == 0 {
			e.release(a)
			return true
		}
		return false
	}
	e.free.insert(a)
	e.placeDirty = true
	return false
}

// snap rounds away the dust that repeated additions leave, so that equal
// free capacities compare equal.
func snap(q float64) float64 {
	const unit = 1 << 20
	if r := math.Round(q*unit) / unit; math.Abs(r-q) < 1e-9 {
		return r
	}
	return q
}
