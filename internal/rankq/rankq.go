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

// A Queue holds task indexes, as a binary heap. The zero Queue is empty
// and ready to use; it is not safe for concurrent use.
type Queue struct {
	h   []item
	seq uint32 // the last item's seq
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
func (q *Queue) Len() int { return len(q.h) }

// Grow makes room for n more tasks, so that pushing them does not
// reallocate the heap.
func (q *Queue) Grow(n int) { q.h = slices.Grow(q.h, n) }

// Push adds task, of the given rank.
func (q *Queue) Push(task int32, rank float64) {
	if q.seq == math.MaxUint32 {
		q.renumber()
	}
	q.seq++
	q.h = append(q.h, item{task: task, rank: rank, seq: q.seq})
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
	byArrival := make([]*item, len(q.h))
	for i := range q.h {
		byArrival[i] = &q.h[i]
	}
	slices.SortFunc(byArrival, func(a, b *item) int { return cmp.Compare(a.seq, b.seq) })
	for k, it := range byArrival {
		it.seq = uint32(k + 1)
	}
	q.seq = uint32(len(q.h))
}

// Pop removes and returns the task to start next. The queue must not be
// empty.
func (q *Queue) Pop() int32 {
	top := q.h[0].task
	n := len(q.h) - 1
	q.h[0] = q.h[n]
	q.h = q.h[:n]
	for i := 0; ; {
		m, l := i, 2*i+1
		if l < n && before(q.h[l], q.h[m]) {
			m = l
		}
		if r := l + 1; r < n && before(q.h[r], q.h[m]) {
			m = r
		}
		if m == i {
			break
		}
		q.h[i], q.h[m] = q.h[m], q.h[i]
		i = m
	}
	return top
}

// Peek returns the task Pop would return, without removing it.
func (q *Queue) Peek() int32 { return q.h[0].task }

// All yields the queue's tasks, the one Pop would return first and the
// rest in the heap's order (higher ranks mostly before lower ones, not
// sorted). The queue must not change while it yields.
func (q *Queue) All() iter.Seq[int32] {
	return func(yield func(int32) bool) {
		for _, it := range q.h {
			if !yield(it.task) {
				return
			}
		}
	}
}
