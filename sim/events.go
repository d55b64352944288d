package sim

import "time"

// evKind says what an event does when its time comes.
type evKind uint8

const (
	evFinish evKind = iota + 1 // task ref finishes
	evLaunch                   // request ref's launch is done: a grant or a failure
	evTick                     // the stealer's tick
	evWake                     // the stealer looks again (end of a failure backoff)
)

// An event is something due at a moment of virtual time. Events due at the
// same moment come out in the order they were pushed (seq), so a run never
// depends on the heap's internals.
type event struct {
	at   time.Duration
	seq  uint64
	kind evKind
	ref  int32
}

func (a event) before(b event) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

// events is a binary min-heap of events: O(log n) push and pop, no
// interface boxing.
type events struct {
	h   []event
	seq uint64
}

func (q *events) len() int { return len(q.h) }

// peek returns the earliest event; the heap must not be empty.
func (q *events) peek() event { return q.h[0] }

func (q *events) push(at time.Duration, kind evKind, ref int32) {
	q.seq++
	q.h = append(q.h, event{at: at, seq: q.seq, kind: kind, ref: ref})
	i := len(q.h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q.h[i].before(q.h[p]) {
			break
		}
		q.h[i], q.h[p] = q.h[p], q.h[i]
		i = p
	}
}

func (q *events) pop() event {
	top := q.h[0]
	n := len(q.h) - 1
	q.h[0] = q.h[n]
	q.h = q.h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && q.h[r].before(q.h[l]) {
			m = r
		}
		if !q.h[m].before(q.h[i]) {
			break
		}
		q.h[i], q.h[m] = q.h[m], q.h[i]
		i = m
	}
	return top
}
