package stealer

// When the latest of several running chains is expected to end: each
// chain's end is uncertain, and the latest of many is later than the
// latest of their means (of ten tasks of a kind whose durations spread
// 400–900 s, the last ends near 900 s, not at their mean).

// latestOf is how many running chains, those expected to end last,
// Durations.Critical weighs as uncertain: a bound on its cost. The
// others are taken to end when expected, which they do long before the
// latest of these is likely to.
const latestOf = 16

// A chainEnd is a running chain of Durations.Critical: its task's kind
// and index among the kind's running ones, the task's expected
// remaining time and the chain behind it, in seconds.
type chainEnd struct {
	kind, i     int
	in, longest float64
	floor       float64 // the least the task has left, from its lineage (see Lineage) and size
	size        float64 // the task's size (see TaskSizes): its kind's durations are over it
	sure        bool    // the task's size is known: it ends at in, not by its kind's spread
}

func (c chainEnd) end() float64 { return c.in + c.longest }

// insertLatest puts c into top, kept latest end first, when it ends
// later than top's last or top has room (up to its capacity): the
// chains expected to end last, the earliest seen first among equals.
func insertLatest(top []chainEnd, c chainEnd) []chainEnd {
	if len(top) == cap(top) && c.end() <= top[len(top)-1].end() {
		return top
	}
	if len(top) < cap(top) {
		top = append(top, c)
	}
	j := len(top) - 1
	for ; j > 0 && top[j-1].end() < c.end(); j-- {
		top[j] = top[j-1]
	}
	top[j] = c
	return top
}

// A mass is a probability P that a running task has At seconds left.
type mass struct {
	At, P float64
}

// expectedLatest returns the expected latest of independent ends, each
// given by its masses in increasing At (a sure end is one mass of 1),
// all at or after zero: the integral from zero of 1 − Π F_i(t), F_i
// the chance that end i has come by t. It walks the masses of all ends
// in order, merging them.
func expectedLatest(ends [][]mass) float64 {
	// next[h] is an end whose masses from pos[end] on are still to
	// come, kept as a min-heap on the At of its next mass.
	pos := make([]int, len(ends))
	var next []int
	at := func(h int) float64 { e := next[h]; return ends[e][pos[e]].At }
	down := func(h int) {
		for {
			l, m := 2*h+1, h
			if l < len(next) && at(l) < at(m) {
				m = l
			}
			if r := l + 1; r < len(next) && at(r) < at(m) {
				m = r
			}
			if m == h {
				return
			}
			next[h], next[m] = next[m], next[h]
			h = m
		}
	}
	for i, e := range ends {
		if len(e) > 0 {
			next = append(next, i)
		}
	}
	for h := len(next)/2 - 1; h >= 0; h-- {
		down(h)
	}
	const tiny = 1e-12
	done := make([]float64, len(ends)) // F_i at the point reached
	zeros, prod := len(ends), 1.0
	t, sum := 0.0, 0.0
	for len(next) > 0 {
		e := next[0]
		q := ends[e][pos[e]]
		all := 0.0
		if zeros == 0 {
			all = prod
		}
		sum += (1 - all) * (max(q.At, 0) - t)
		t = max(q.At, 0)
		old := done[e]
		now := min(1, old+q.P)
		if old <= tiny {
			zeros--
		} else {
			prod /= min(old, 1)
		}
		if now <= tiny {
			zeros++
		} else {
			prod *= now
		}
		done[e] = now
		if pos[e]++; pos[e] == len(ends[e]) {
			next[0] = next[len(next)-1]
			next = next[:len(next)-1]
		}
		down(0)
	}
	return sum
}
