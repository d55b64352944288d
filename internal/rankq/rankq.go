// Package rankq is the queue of a shape's ready tasks, shared by the
// runner and the simulator so that both start ready tasks in one order:
// the highest upward rank first (the longest estimated path from the task
// to the end of the flow, see ebb.UpwardRanks), and, within equal ranks,
// the task that became ready first.
package rankq

import "container/heap"

// A Queue holds task indexes. The zero Queue is empty and ready to use; it
// is not safe for concurrent use.
type Queue struct {
	h   items
	seq uint64
}

type item struct {
	task int32
	rank float64
	seq  uint64
}

type items []item

func (h items) Len() int { return len(h) }
func (h items) Less(i, j int) bool {
	if h[i].rank != h[j].rank {
		return h[i].rank > h[j].rank
	}
	return h[i].seq < h[j].seq
}
func (h items) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *items) Push(x any)   { *h = append(*h, x.(item)) }
func (h *items) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Len returns how many tasks the queue holds.
func (q *Queue) Len() int { return len(q.h) }

// Push adds task, of the given rank.
func (q *Queue) Push(task int32, rank float64) {
	q.seq++
	heap.Push(&q.h, item{task: task, rank: rank, seq: q.seq})
}

// Pop removes and returns the task to start next. The queue must not be
// empty.
func (q *Queue) Pop() int32 {
	return heap.Pop(&q.h).(item).task
}

// Peek returns the task Pop would return, without removing it.
func (q *Queue) Peek() int32 { return q.h[0].task }
