package placement

import (
	"cmp"
	"slices"
)

// Reservations keep large tasks from starving behind small ones.
//
// Placement takes ready tasks largest shape first (or highest rank
// first), each to an alloc whose free room holds it. When every alloc is
// partly busy, a large task fits none of them, and a smaller task takes
// each slot as it frees: the large task waits until, by chance, enough
// slots of one alloc free at once. On a cluster that cannot grow (its
// most workers reached, or a static one), that can be the whole flow:
// tasks of 4 cpus waiting 20 minutes behind tasks of 1 cpu, their
// chains behind them.
//
// So a task that placement takes in its order and that fits no alloc's
// free room reserves an alloc that holds it whole (see Reserve): no task
// placed after it in that placement starts there, and the alloc's room
// grows as its running tasks end, until the task fits. Each task left
// waiting so reserves one alloc, as long as one is left to reserve;
// when no shape comes after it in the placement's order, nothing could
// take the room, and none is reserved.
// Reservations last one placement: the next places anew, and so a
// reserved alloc that a task leaves for another, freer one (a new alloc
// that came meanwhile) takes other work again.

// Reserve returns which of n allocs k tasks that fit none of their free
// room reserve, one each, appended to buf: of those that hold(i) (hold
// such a task whole, take new tasks and are not reserved yet), the k
// with the most room free, room(i) (the Size of what it has free, as
// best fit weighs room), which are likely the first to hold one; among
// equals the last in the caller's order (the newest: best fit takes the
// oldest of equals, so a tie is left to it). It costs one pass over the
// allocs, and a sort of those that hold the task when they outnumber
// the tasks.
func Reserve(buf []int, n, k int, holds func(i int) bool, room func(i int) float64) []int {
	start := len(buf)
	for i := n - 1; i >= 0; i-- {
		if holds(i) {
			buf = append(buf, i)
		}
	}
	if len(buf)-start > k {
		slices.SortStableFunc(buf[start:], func(a, b int) int { return cmp.Compare(room(b), room(a)) })
		buf = buf[:start+max(0, k)]
	}
	return buf
}
