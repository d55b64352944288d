package sim

import (
	"cmp"
	"slices"
	"strings"
)

// A bucket holds the allocs that have exactly the same free capacity.
type bucket struct {
	key     string
	free    []float64
	size    float64
	members []*alloc // a min-heap by alloc number: the primary, then the oldest
}

// freeIndex finds, for a task shape, the alloc with the least free
// capacity that holds it (best fit, as runner.Eval places), in time that
// grows with the number of distinct free capacities, not of allocs: allocs
// are grouped into buckets by their free capacity, and buckets are sorted
// by size. Among allocs of one bucket it takes the lowest numbered (the
// primary first, then by age), so runs are deterministic.
type freeIndex struct {
	sp     *space
	byKey  map[string]*bucket
	sorted []*bucket // by size, then key
	buf    []byte
}

func newFreeIndex(sp *space) *freeIndex {
	return &freeIndex{sp: sp, byKey: map[string]*bucket{}}
}

func compareBuckets(a, b *bucket) int {
	if c := cmp.Compare(a.size, b.size); c != 0 {
		return c
	}
	return strings.Compare(a.key, b.key)
}

// insert files a under its free capacity; an alloc with nothing free is
// not filed (no task fits it).
func (f *freeIndex) insert(a *alloc) {
	if a.bucket != nil {
		panic("sim: alloc filed twice")
	}
	if empty(a.free) {
		return
	}
	f.buf = key(f.buf, a.free)
	b, ok := f.byKey[string(f.buf)]
	if !ok {
		b = &bucket{key: string(f.buf), free: slices.Clone(a.free), size: f.sp.size(a.free)}
		f.byKey[b.key] = b
		i, _ := slices.BinarySearchFunc(f.sorted, b, compareBuckets)
		f.sorted = slices.Insert(f.sorted, i, b)
	}
	a.bucket = b
	heapPush(b, a)
}

// remove takes a out of its bucket, if it is in one.
func (f *freeIndex) remove(a *alloc) {
	b := a.bucket
	if b == nil {
		return
	}
	heapRemove(b, a)
	a.bucket = nil
	if len(b.members) == 0 {
		delete(f.byKey, b.key)
		i, ok := slices.BinarySearchFunc(f.sorted, b, compareBuckets)
		if ok {
			f.sorted = slices.Delete(f.sorted, i, i+1)
		}
	}
}

// bestFit returns the alloc with the least free capacity that holds need,
// or nil.
func (f *freeIndex) bestFit(need []float64, size float64) *alloc {
	lo := size * (1 - 1e-9)
	i, _ := slices.BinarySearchFunc(f.sorted, lo, func(b *bucket, s float64) int { return cmp.Compare(b.size, s) })
	for ; i < len(f.sorted); i++ {
		if b := f.sorted[i]; fits(need, b.free) {
			return b.members[0]
		}
	}
	return nil
}

func heapPush(b *bucket, a *alloc) {
	a.bpos = len(b.members)
	b.members = append(b.members, a)
	heapUp(b.members, a.bpos)
}

func heapRemove(b *bucket, a *alloc) {
	h := b.members
	i, n := a.bpos, len(h)-1
	if i != n {
		h[i] = h[n]
		h[i].bpos = i
	}
	b.members = h[:n]
	if i < n {
		heapDown(b.members, i)
		heapUp(b.members, i)
	}
	a.bpos = -1
}

func heapUp(h []*alloc, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p].num <= h[i].num {
			break
		}
		h[i], h[p] = h[p], h[i]
		h[i].bpos, h[p].bpos = i, p
		i = p
	}
}

func heapDown(h []*alloc, i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].num < h[l].num {
			m = r
		}
		if h[i].num <= h[m].num {
			return
		}
		h[i], h[m] = h[m], h[i]
		h[i].bpos, h[m].bpos = i, m
		i = m
	}
}
