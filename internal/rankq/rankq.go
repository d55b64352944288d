// Package rankq is the queue of a shape's ready tasks, shared by the
// runner and the simulator so that both start ready tasks in one order:
// the highest upward rank first (the longest estimated path from the task
// to the end of the flow, see ebb.UpwardRanks), and, within equal ranks,
// the task that became ready first.
package rankq

import (
	"cmp"
	"iter"
	"math"
	"slices"
)

// A Queue holds task indexes, as a run and a binary heap. The run is a
// first-in first-out list already in the queue's order: a task pushed
// with a rank no higher than the run's last joins it, at O(1) a push and
// a pop, which is how most tasks arrive (a flow's independent tasks share
// one rank). Any other task goes to the heap. Pop takes the head of
// whichever of the two comes first. The zero Queue is empty and ready to
// use; it is not safe for concurrent use.
type Queue struct {
	run  []item // in Pop's order: ranks non-increasing, seqs increasing within a rank
	head int    // the run's first item still held; those before it are popped
	h    []item // a binary heap
	seq  uint32 // the last item's seq
}

// An item is 16 bytes: a big flow's ready tasks are millions of them.
type item struct {
	rank float64
	seq  uint32 // order of arrival among the items held
	task int32
}

// before reports whether a comes out before b.
func before(a, b item) bool {
	if a.rank != b.rank {
		return a.rank > b.rank
	}
	return a.seq < b.seq
}

// Len returns how many tasks the queue holds.
func (q *Queue) Len() int { return len(q.run) - q.head + len(q.h) }

// Grow makes room for n more tasks in the run, so that pushing them in
// Pop's order (equal ranks, say) does not reallocate.
func (q *Queue) Grow(n int) { q.run = slices.Grow(q.run, n) }

// Push adds task, of the given rank.
func (q *Queue) Push(task int32, rank float64) {
	if q.seq == math.MaxUint32 {
		q.renumber()
	}
	q.seq++
	it := item{task: task, rank: rank, seq: q.seq}
	if n := len(q.run); n == q.head || rank <= q.run[n-1].rank {
		// Later than every item of the run and of no higher rank than
		// its last: it comes out after them.
		if n == cap(q.run) && q.head >= n/2 {
			// Move the held items down rather than grow the array.
			q.run = q.run[:copy(q.run, q.run[q.head:])]
			q.head = 0
		}
		q.run = append(q.run, it)
		return
	}
	q.h = append(q.h, it)
	for i := len(q.h) - 1; i > 0; {
		p := (i - 1) / 2
		if !before(q.h[i], q.h[p]) {
			break
		}
		q.h[i], q.h[p] = q.h[p], q.h[i]
		i = p
	}
}

// renumber gives the items held the seqs 1, 2, ... in their order of
// arrival, so that seq counts on without wrapping. The heap stays valid:
// no two items change order.
func (q *Queue) renumber() {
	byArrival := make([]*item, 0, q.Len())
	for i := range q.run[q.head:] {
		byArrival = append(byArrival, &q.run[q.head+i])
	}
	for i := range q.h {
		byArrival = append(byArrival, &q.h[i])
	}
	slices.SortFunc(byArrival, func(a, b *item) int { return cmp.Compare(a.seq, b.seq) })
	for k, it := range byArrival {
		it.seq = uint32(k + 1)
	}
	q.seq = uint32(q.Len())
}

// fromRun reports whether Pop takes the run's head rather than the
// heap's top.
func (q *Queue) fromRun() bool {
	return len(q.run) > q.head && (len(q.h) == 0 || before(q.run[q.head], q.h[0]))
}

// Pop removes and returns the task to start next. The queue must not be
// empty.
func (q *Queue) Pop() int32 {
	if q.fromRun() {
		top := q.run[q.head].task
		q.head++
		if q.head == len(q.run) {
			q.run, q.head = q.run[:0], 0 // a new run starts at the array's head
		}
		return top
	}
	top := q.h[0].task
	n := len(q.h) - 1
	q.h[0] = q.h[n]
	q.h = q.h[:n]
	q.down(0)
	return top
}

// down moves the heap's item i down to its place.
func (q *Queue) down(i int) {
	n := len(q.h)
	for {
		m, l := i, 2*i+1
		if l < n && before(q.h[l], q.h[m]) {
			m = l
		}
		if r := l + 1; r < n && before(q.h[r], q.h[m]) {
			m = r
		}
		if m == i {
			return
		}
		q.h[i], q.h[m] = q.h[m], q.h[i]
		i = m
	}
}

// Peek returns the task Pop would return, without removing it.
func (q *Queue) Peek() int32 {
	if q.fromRun() {
		return q.run[q.head].task
	}
	return q.h[0].task
}

// All yields the queue's tasks, the one Pop would return first and the
// rest in no set order (higher ranks mostly before lower ones, not
// sorted). The queue must not change while it yields.
func (q *Queue) All() iter.Seq[int32] {
	return func(yield func(int32) bool) {
		first, second := q.run[q.head:], q.h
		if !q.fromRun() {
			first, second = second, first
		}
		for _, it := range first {
			if !yield(it.task) {
				return
			}
		}
		for _, it := range second {
			if !yield(it.task) {
				return
			}
		}
	}
}

// Rerank gives every task held the rank rank(task) returns, each keeping
// its place among equal ranks: the queue then pops what pushing the tasks
// in their order of arrival with their new ranks would have. It makes one
// heap of them, in O(n) for n tasks held (each Pop then costs O(log n)).
func (q *Queue) Rerank(rank func(task int32) float64) {
	h := append(q.h, q.run[q.head:]...)
	for i := range h {
		h[i].rank = rank(h[i].task)
	}
	q.run, q.head, q.h = q.run[:0], 0, h
	for i := len(h)/2 - 1; i >= 0; i-- {
		q.down(i)
	}
}

// A Reweigh says when a run computes its ranks again as it learns
// durations: the runner's and the simulator's rule alike. The zero
// Reweigh never says so; make one with NewReweigh.
type Reweigh struct{ left int }

// NewReweigh returns the Reweigh of a run of n tasks. Each re-weighing
// walks the whole graph and heaps the ready tasks, so a flow of many kinds
// and many tasks re-weighs at most 16 times, and a smaller one as often
// as 2^24 task visits allow.
func NewReweigh(n int) Reweigh { return Reweigh{left: max(16, (1<<24)/max(n, 1))} }

// Due reports whether the ranks are to be computed again now that a task
// has finished: when its duration is the first known for its kind (first,
// see stealer.Durations.Observe), so that the kind no longer weighs the
// other kinds' mean; never in a flow of one kind, whose tasks weigh alike
// whatever is learned; and not once the budget is spent.
func (r *Reweigh) Due(first bool, kinds int) bool {
	if !first || kinds < 2 || r.left == 0 {
		return false
	}
	r.left--
	return true
}
