package runner

import (
	"cmp"
	"math"
	"slices"
	"unsafe"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/rankq"
	"github.com/ebbflow/ebb/stealer"
)

// readyQueue holds the ready tasks, grouped by shape (their resources), so
// that placing work on an alloc costs time in the number of distinct shapes,
// not of tasks. Shapes are kept largest first: an alloc takes the largest
// tasks that fit before smaller ones, so that when capacity is short the
// big tasks, which fit in fewer places, are not starved by small ones.
// Once every kind's duration is known the ranks are times, and placement
// takes the shape whose next task has the highest rank first (see
// ordered): a small task heading a long chain no longer waits behind
// bigger ones that only end the flow. Each shape's tasks come out highest
// upward rank first (they start the longest chains to the end of the
// flow), in the order they became ready within a rank.
//
// A readyQueue is not safe for concurrent use; the Eval's mutex guards it.
type readyQueue struct {
	kindOf []int32            // per task: its kind (see kinds.go)
	sizes  *stealer.TaskSizes // per task: its size (see Eval.sizes)
	rank   []float64          // per task: its upward rank (see ebb.UpwardRanks)
	shapes []*shape           // largest first
	byRank []*shape           // scratch for ordered
	byKey  map[string]*shape
	last   *shape // the shape shapeOf returned last
	// lastRes is the map shapeOf was last given: tasks built in Go
	// often share one, which is then known to be of shape last without
	// reading it (a flow does not change while it runs).
	lastRes ebb.Resources
	n       int // ready tasks in all shapes
}

type shape struct {
	res ebb.Resources
	// amounts is res as a slice: placement, at every task's end, reads
	// it without iterating a map (each iteration of a map draws a
	// random number to start at).
	amounts []amount
	size    float64
	q       rankq.Queue // ready task indexes
	kinds   []int       // ready tasks by kind (an index in Eval.kinds)
	units   []float64   // their sizes summed, by kind, when any size is known (see stealer.KindWork)
}

// An amount is one key of a shape's resources.
type amount struct {
	key string
	n   float64
}

// fits reports whether the shape fits in free, as s.res.Fits(free).
func (s *shape) fits(free ebb.Resources) bool {
	for _, a := range s.amounts {
		if have := free[a.key]; a.n > have+ebb.Tolerance*math.Max(1, math.Abs(have)) {
			return false
		}
	}
	return true
}

// unitsIn returns how many tasks of the shape fit side by side in free,
// at most limit (at least 1), as
// ebb.Requirements{Min: s.res, Width: limit}.UnitsIn(free).
func (s *shape) unitsIn(free ebb.Resources, limit int) int {
	n := limit
	for _, a := range s.amounts {
		if a.n > 0 {
			if n = min(n, ebb.QuantityUnits(a.n, free[a.key], n)); n == 0 {
				return 0
			}
		}
	}
	return n
}

// take subtracts n tasks of the shape from r, which the caller owns.
func (s *shape) take(r ebb.Resources, n int) {
	for _, a := range s.amounts {
		if a.n != 0 {
			r[a.key] -= a.n * float64(n)
		}
	}
}

// give adds one task of the shape to r, which the caller owns.
func (s *shape) give(r ebb.Resources) {
	for _, a := range s.amounts {
		r[a.key] += a.n
	}
}

func (s *shape) len() int { return s.q.Len() }

// shapeOf returns the shape for res, making it if new.
func (r *readyQueue) shapeOf(res ebb.Resources) *shape {
	// Flows tend to list tasks of one shape together: try the last one
	// before formatting a key.
	if r.last != nil && (sameMap(r.lastRes, res) || r.last.res.Equal(res)) {
		r.lastRes = res
		return r.last
	}
	key := res.Format()
	r.lastRes = res
	if s, ok := r.byKey[key]; ok {
		r.last = s
		return s
	}
	if r.byKey == nil {
		r.byKey = map[string]*shape{}
	}
	s := &shape{res: res.Clone(), size: res.Size()}
	for k, n := range s.res {
		s.amounts = append(s.amounts, amount{k, n})
	}
	r.byKey[key] = s
	i, _ := slices.BinarySearchFunc(r.shapes, s, func(a, b *shape) int {
		switch {
		case a.size > b.size:
			return -1
		case a.size < b.size:
			return 1
		}
		return 0
	})
	r.shapes = slices.Insert(r.shapes, i, s)
	r.last = s
	return s
}

func (r *readyQueue) push(s *shape, task int32) {
	s.q.Push(task, r.rank[task])
	k := int(r.kindOf[task])
	if k >= len(s.kinds) {
		s.kinds = append(s.kinds, make([]int, k+1-len(s.kinds))...)
	}
	s.kinds[k]++
	if r.sizes != nil && r.sizes.Any() {
		if k >= len(s.units) {
			s.units = append(s.units, make([]float64, k+1-len(s.units))...)
		}
		s.units[k] += r.sizes.Of(task)
	}
	r.n++
}

// pop takes the task of shape s, which is not empty, to start next: the
// highest rank, first come within a rank.
func (r *readyQueue) pop(s *shape) int32 {
	t := s.q.Pop()
	k := r.kindOf[t]
	s.kinds[k]--
	if int(k) < len(s.units) {
		s.units[k] -= r.sizes.Of(t)
	}
	r.n--
	return t
}

// subInPlace subtracts s from r, writing into r, which the caller owns.
func subInPlace(r, s ebb.Resources) ebb.Resources {
	for k, v := range s {
		r[k] -= v
	}
	return r
}

// sameMap reports whether a and b are the same map (or both nil), not
// merely equal ones.
func sameMap(a, b ebb.Resources) bool {
	// A map value is one pointer (what reflect.Value.UnsafePointer
	// reads, at a call's cost).
	return *(*unsafe.Pointer)(unsafe.Pointer(&a)) == *(*unsafe.Pointer)(unsafe.Pointer(&b))
}

// ordered returns the shapes in the order placement takes them: largest
// first, or, when the ranks are times (every kind's duration known, see
// Eval.ranksTimed), the shape whose next task has the highest upward rank
// first, the larger among equal ranks. The slice is scratch, valid until
// the next call.
func (q *readyQueue) ordered(timed bool) []*shape {
	if !timed {
		return q.shapes
	}
	q.byRank = q.byRank[:0]
	for _, s := range q.shapes {
		if s.len() > 0 {
			q.byRank = append(q.byRank, s)
		}
	}
	slices.SortStableFunc(q.byRank, func(a, b *shape) int {
		return cmp.Compare(q.rank[b.q.Peek()], q.rank[a.q.Peek()])
	})
	return q.byRank
}
