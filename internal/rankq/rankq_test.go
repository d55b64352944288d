package rankq

import (
	"math"
	"slices"
	"testing"
	"unsafe"
)

func TestOrder(t *testing.T) {
	var q Queue
	for _, x := range []struct {
		task int32
		rank float64
	}{{1, 1}, {2, 5}, {3, 1}, {4, 5}, {5, 3}} {
		q.Push(x.task, x.rank)
	}
	var got []int32
	for q.Len() > 0 {
		got = append(got, q.Pop())
	}
	want := []int32{2, 4, 5, 1, 3} // highest rank first, first come within a rank
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
}

// The queue gives the order a sort by (rank desc, arrival) gives, for any
// mix of pushes, pops and reranks: ranks at random, ranks mostly equal
// (the run), and ranks that mostly fall with a rise now and then (run and
// heap interleaved).
func TestOrderRandom(t *testing.T) {
	for _, c := range []struct {
		name string
		rank func(i int, r uint64) float64
	}{
		{"random", func(_ int, r uint64) float64 { return float64(r % 7) }},
		{"mostly equal", func(_ int, r uint64) float64 {
			if r%50 == 0 {
				return float64(r % 3)
			}
			return 1
		}},
		{"falling", func(i int, r uint64) float64 {
			if r%20 == 0 {
				return float64(r % 100)
			}
			return float64(100 - i/60)
		}},
	} {
		t.Run(c.name, func(t *testing.T) { checkOrder(t, c.rank) })
	}
}

func checkOrder(t *testing.T, rank func(i int, r uint64) float64) {
	var q Queue
	type pushed struct {
		task int32
		rank float64
		seq  int
	}
	var model []pushed
	seq := 0
	x := uint64(1)
	next := func() uint64 { x = x*6364136223846793005 + 1442695040888963407; return x >> 33 }
	for i := range 6000 {
		if i%997 == 996 {
			// Every task takes a new rank, keeping its arrival.
			salt := next()
			newRank := func(task int32) float64 { return float64((uint64(task)*2654435761 + salt) % 5) }
			q.Rerank(newRank)
			for j := range model {
				model[j].rank = newRank(model[j].task)
			}
		}
		if next()%3 != 0 || len(model) == 0 {
			r := rank(i, next())
			q.Push(int32(i), r)
			seq++
			model = append(model, pushed{int32(i), r, seq})
			continue
		}
		best := 0
		for j, m := range model {
			if m.rank > model[best].rank || m.rank == model[best].rank && m.seq < model[best].seq {
				best = j
			}
		}
		if got := q.Peek(); got != model[best].task {
			t.Fatalf("peek %d: got task %d, want %d", i, got, model[best].task)
		}
		if got := q.Pop(); got != model[best].task {
			t.Fatalf("pop %d: got task %d, want %d", i, got, model[best].task)
		}
		model = append(model[:best], model[best+1:]...)
	}
	if q.Len() != len(model) {
		t.Fatalf("Len %d, want %d", q.Len(), len(model))
	}
	first := true
	n := 0
	for task := range q.All() {
		if first && task != q.Peek() {
			t.Fatalf("All yielded %d first, want %d", task, q.Peek())
		}
		first = false
		n++
	}
	if n != len(model) {
		t.Fatalf("All yielded %d tasks, want %d", n, len(model))
	}
}

// Tasks of equal rank pass through the run, never the heap, and a run
// that never empties (as many pushes as pops) reuses its array rather
// than growing without bound.
func TestEqualRanksRun(t *testing.T) {
	var q Queue
	for i := range 100 {
		q.Push(int32(i), 2)
	}
	for i := 100; i < 100_000; i++ {
		q.Push(int32(i), 2)
		if got := q.Pop(); got != int32(i-100) {
			t.Fatalf("pop %d, want %d", got, i-100)
		}
	}
	if len(q.h) != 0 {
		t.Errorf("the heap holds %d items of equal rank, want 0", len(q.h))
	}
	if c := cap(q.run); c > 1024 {
		t.Errorf("the run's array holds %d items for 101 held, want it reused", c)
	}
}

// All yields every task once, the one Pop gives first at the head, and
// stops when asked to.
func TestAll(t *testing.T) {
	var q Queue
	for i, r := range []float64{1, 5, 1, 5, 3} {
		q.Push(int32(i+1), r)
	}
	seen := map[int32]int{}
	var first int32 = -1
	for task := range q.All() {
		if first < 0 {
			first = task
		}
		seen[task]++
	}
	if len(seen) != 5 || first != q.Peek() {
		t.Errorf("All yielded %v first %d, want the 5 tasks once each, %d first", seen, first, q.Peek())
	}
	for task, n := range seen {
		if n != 1 {
			t.Errorf("All yielded task %d %d times", task, n)
		}
	}
	n := 0
	for range q.All() {
		n++
		break
	}
	if n != 1 || q.Len() != 5 {
		t.Errorf("All after a break: %d yielded, %d left; want 1 and the queue untouched", n, q.Len())
	}
}

// Equal ranks still come out first come, first served when the arrival
// counter reaches its end and the queue renumbers what it holds.
func TestSeqWraps(t *testing.T) {
	var q Queue
	q.seq = math.MaxUint32 - 3
	for i := range 10 {
		q.Push(int32(i), float64(i%2))
	}
	if q.seq > 100 {
		t.Fatalf("seq %d after renumbering, want it restarted", q.seq)
	}
	var got []int32
	for q.Len() > 0 {
		got = append(got, q.Pop())
	}
	want := []int32{1, 3, 5, 7, 9, 0, 2, 4, 6, 8}
	if !slices.Equal(got, want) {
		t.Errorf("popped %v, want %v", got, want)
	}
}

// A held task costs 16 bytes of heap: a million ready tasks are 16 MB.
func TestItemSize(t *testing.T) {
	if n := unsafe.Sizeof(item{}); n != 16 {
		t.Errorf("an item is %d bytes, want 16", n)
	}
}

// Rerank reorders what the queue holds by the new ranks, first come within
// a rank, whether the tasks sat in the run or the heap; pushes after it
// take their places among them.
func TestRerank(t *testing.T) {
	var q Queue
	for i, r := range []float64{3, 2, 2, 9, 1} { // 0, 1, 2 in the run; 3 in the heap; 4 in the run
		q.Push(int32(i), r)
	}
	if len(q.h) == 0 {
		t.Fatal("no task in the heap: the test covers less than it says")
	}
	q.Rerank(func(task int32) float64 { return []float64{1, 4, 1, 0, 4}[task] })
	q.Push(5, 2)
	var got []int32
	for q.Len() > 0 {
		got = append(got, q.Pop())
	}
	if want := []int32{1, 4, 5, 0, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("popped %v, want %v", got, want)
	}
}

// A run re-weighs when a kind's first duration is learned in a flow of
// several kinds, within its budget: 16 times for a big flow, as often as
// 2^24 task visits allow for a smaller one.
func TestReweigh(t *testing.T) {
	for _, c := range []struct{ n, budget int }{{0, 1 << 24}, {100, (1 << 24) / 100}, {1 << 20, 16}, {1 << 30, 16}} {
		r := NewReweigh(c.n)
		if r.Due(false, 3) || r.Due(true, 1) {
			t.Errorf("n %d: due for a kind already known, or in a flow of one kind", c.n)
		}
		due := 0
		for due < c.budget+1 && r.Due(true, 2) {
			due++
		}
		if due != c.budget {
			t.Errorf("n %d: due %d times, want %d", c.n, due, c.budget)
		}
	}
	var zero Reweigh
	if zero.Due(true, 2) {
		t.Error("the zero Reweigh is due")
	}
}
