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
	n      int       // allocs filed
	buf    []byte
	// A reservation under way (see reserveTop): the buckets after bnd
	// in sorted order are reserved whole, and of bnd's members the
	// nres newest; held counts them all.
	bnd        *bucket
	nres, held int
	taken      bool // a reservation took allocs out of the index (see engine.reserve)
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
	f.n++
}

// remove takes a out of its bucket, if it is in one.
func (f *freeIndex) remove(a *alloc) {
	b := a.bucket
	if b == nil {
		return
	}
	heapRemove(b, a)
	a.bucket = nil
	f.n--
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
		b := f.sorted[i]
		if f.bnd != nil {
			// Past bnd, every bucket is reserved; in bnd, the
			// oldest member is the last reserved.
			if c := compareBuckets(b, f.bnd); c > 0 {
				return nil
			} else if c == 0 && f.nres >= len(b.members) {
				continue
			}
		}
		if fits(need, b.free) {
			return b.members[0]
		}
	}
	return nil
}

// reserveTop reserves k more of the allocs filed and not reserved yet,
// those with the most free capacity first, the newest first among those
// of one bucket; it reports false when fewer than k were left, all of
// them now reserved. It costs a step per bucket it reaches, however many
// allocs it reserves: the reserved allocs stay filed, and bestFit passes
// them by.
func (f *freeIndex) reserveTop(k int) bool {
	for k > 0 {
		if f.bnd == nil {
			if len(f.sorted) == 0 {
				return false
			}
			f.bnd, f.nres = f.sorted[len(f.sorted)-1], 0
		}
		b := f.bnd
		avail := len(b.members) - f.nres
		if k <= avail {
			f.nres += k
			f.held += k
			return true
		}
		k -= avail
		f.nres = len(b.members)
		f.held += avail
		i, _ := slices.BinarySearchFunc(f.sorted, b, compareBuckets)
		if i == 0 {
			return false
		}
		f.bnd, f.nres = f.sorted[i-1], 0
	}
	return true
}

// reservedTop reports whether a is reserved by reserveTop.
func (f *freeIndex) reservedTop(a *alloc) bool {
	b := a.bucket
	if b == nil || f.bnd == nil {
		return false
	}
	c := compareBuckets(b, f.bnd)
	if c != 0 {
		return c > 0
	}
	newer := len(b.members) - 1 // the heap's root is its oldest
	if a != b.members[0] {
		newer = 0
		for _, m := range b.members {
			if m.num > a.num {
				newer++
			}
		}
	}
	return newer < f.nres
}

// endReserve ends the reservations of a placement: every alloc filed
// takes tasks again.
func (f *freeIndex) endReserve() {
	f.bnd, f.nres, f.held, f.taken = nil, 0, 0, false
}

// takeTop returns the allocs reserveTop reserved, taken out of the index
// (then reserved as any other: see engine.reserve), and ends its
// reservation.
func (f *freeIndex) takeTop(buf []*alloc) []*alloc {
	if f.bnd == nil {
		return buf
	}
	start := len(buf)
	i, _ := slices.BinarySearchFunc(f.sorted, f.bnd, compareBuckets)
	for _, b := range f.sorted[i+1:] {
		buf = append(buf, b.members...)
	}
	newest := slices.Clone(f.bnd.members)
	slices.SortFunc(newest, func(a, b *alloc) int { return cmp.Compare(b.num, a.num) })
	buf = append(buf, newest[:f.nres]...)
	f.bnd, f.nres, f.held = nil, 0, 0
	for _, a := range buf[start:] {
		f.remove(a)
	}
	return buf
}

// roomiest appends to buf the allocs filed that hold(a), from the most
// free capacity down, until it has at least k and the next bucket has
// less than the last it took: the k with the most free capacity among
// them are then in buf, ties included.
func (f *freeIndex) roomiest(buf []*alloc, k int, hold func(a *alloc) bool) []*alloc {
	start := len(buf)
	for i := len(f.sorted) - 1; i >= 0; i-- {
		b := f.sorted[i]
		if len(buf)-start >= k && b.size < buf[len(buf)-1].bucket.size {
			break
		}
		for _, a := range b.members {
			if hold(a) {
				buf = append(buf, a)
			}
		}
	}
	return buf
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
