package runner

import (
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/placement"
)

// A bin is a working alloc's room as placement sees it: what it has free,
// what it holds in all, and how many more tasks it may start (MaxExecs
// less those it runs); reserved marks a bin that a task placement left
// waiting has reserved (see placement.Reserve).
type bin struct {
	free     ebb.Resources
	whole    ebb.Resources
	execs    int
	reserved bool
}

// placeReady decides which ready tasks the working allocs take: shapes in
// the order given (readyQueue.ordered: the largest first, or, once the
// ranks are times, the highest-ranked next task first), each to the bin
// with the least free capacity that holds it and may start another task
// (best fit), as many at once as fit there and its exec limit allows, so
// that big allocs stay free for big tasks, small allocs fill up, and the
// rest go idle. Each task of a shape that fits no bin's free room
// reserves a bin that holds it whole (placement.Reserve), which no later
// shape's task takes (and with no later shape, none is reserved). For
// each decision it takes n tasks of s out of bins[b] (free and execs) and
// then calls take(s, b, n); the tasks of a shape are taken in queue
// order. When pick is set, it may send the
// shape's next task elsewhere: pick(s, b) returns the bin to use instead
// of the best fit b, or -1 when the shape's tasks wait, and then
// placeReady calls take(s, -1, n) with the n tasks of s it did not place,
// and goes on with the next shape.
//
// It is the one placement of the runner: Eval.place runs it on the real
// bins and starts what it decides, and Demand runs it on copies and
// reports what is left, so Demand is exactly the ready tasks that held
// capacity will not run. It reads the shapes' lengths but changes no
// shape; bins are the caller's, and only their fields change.
func placeReady(shapes []*shape, bins []bin, pick func(s *shape, b int) int, take func(s *shape, b, n int)) {
	// Only shapes after a reservation are kept off it: past the last
	// shape with tasks, none is made.
	last := -1
	for i, s := range shapes {
		if s.len() > 0 {
			last = i
		}
	}
	var reserved []int
	for si, s := range shapes {
		left := s.len()
		for left > 0 {
			best, bestSize := -1, 0.0
			for i := range bins {
				b := &bins[i]
				if b.execs <= 0 || b.reserved || !s.fits(b.free) {
					continue
				}
				if len(bins) == 1 {
					best = i // no other to compare it with
					break
				}
				if size := b.free.Size(); best < 0 || size < bestSize {
					best, bestSize = i, size
				}
			}
			if best < 0 {
				if si < last {
					reserved = reserve(reserved[:0], s, bins, left)
				}
				break
			}
			if pick != nil && left == s.len() {
				if best = pick(s, best); best < 0 {
					take(s, -1, left)
					break
				}
			}
			b := &bins[best]
			n := max(1, s.unitsIn(b.free, min(left, b.execs)))
			s.take(b.free, n)
			b.execs -= n
			left -= n
			take(s, best, n)
		}
	}
}

// reserve has n tasks of s, which fit no bin's free room, reserve a bin
// each, as long as one that holds them whole is left (placement.Reserve).
// It returns buf, the bins it reserved appended.
func reserve(buf []int, s *shape, bins []bin, n int) []int {
	buf = placement.Reserve(buf, len(bins), n,
		func(i int) bool { b := &bins[i]; return !b.reserved && b.execs > 0 && s.fits(b.whole) },
		func(i int) float64 { return bins[i].free.Size() })
	for _, i := range buf {
		bins[i].reserved = true
	}
	return buf
}

// place assigns ready tasks to the workers that can hold them, as
// placeReady decides, and wakes the workers when it placed any. A worker
// starts the tasks assigned to it when it next wakes. e.mu is held.
func (e *Eval) place() {
	if e.placeLocked(time.Now()) > 0 {
		e.broadcast()
	}
}

// placeLocked is place without the wake, the tasks it places started
// at now: it returns how many tasks it placed. e.mu is held.
func (e *Eval) placeLocked(now time.Time) (placed int) {
	if e.ready.n == 0 {
		return 0
	}
	defer func() {
		switch {
		case e.ready.n == 0:
			e.demanded = false
		case !e.demanded && e.cfg.OnDemand != nil:
			e.demanded = true
			e.cfg.OnDemand()
		}
	}()
	ws, bins := e.bins(false)
	placeReady(e.ready.ordered(e.ranksTimed), bins, e.longTasks(ws, bins, now), func(s *shape, b, n int) {
		if b < 0 {
			e.waitsForPrimary(s.q.Peek(), now)
			return
		}
		w := ws[b]
		if w.running == 0 {
			w.idleSince = time.Time{}
		}
		for range n {
			t := e.ready.pop(s)
			if len(e.waitSince) > 0 {
				delete(e.waitSince, t)
			}
			e.tasks[t].state = running
			e.started(t, w, now)
			e.reportPlaced(t, w.alloc.ID())
			w.assigned = append(w.assigned, t)
		}
		w.running += n
		e.counts.Running += n
		placed += n
	})
	return placed
}

// bins returns the workers that take new tasks and their bins; the bins
// share the workers' free maps, or hold copies when clone is set. Without
// clone (a real placement, at every wake of a worker) it reuses the
// eval's scratch slices, valid until the next call. e.mu is held.
func (e *Eval) bins(clone bool) ([]*worker, []bin) {
	var ws []*worker
	var bins []bin
	if clone {
		ws, bins = make([]*worker, 0, len(e.workers)), make([]bin, 0, len(e.workers))
	} else {
		ws, bins = e.scratchWs[:0], e.scratchBins[:0]
		defer func() { e.scratchWs, e.scratchBins = ws, bins }()
	}
	for _, w := range e.workers {
		if w.draining || w.running >= e.cfg.MaxExecs {
			continue
		}
		free := w.free
		if clone {
			free = free.Clone()
		}
		ws = append(ws, w)
		bins = append(bins, bin{free: free, whole: w.whole, execs: e.cfg.MaxExecs - w.running})
	}
	return ws, bins
}

// Demand returns the ready tasks that the allocs now working for the eval
// will not run, even once their free capacity and exec slots (MaxExecs)
// are used: the work that needs more allocs. It is a dry run of the
// placement that Work does. Shapes come largest first, each with the mean
// estimate of its tasks' kinds (see stealer.Durations); the result is the
// caller's. A stealer calls it at every tick, and so it first places anew
// when a task that waits for the primary has waited as long as it may
// (see longTasks), without waiting for a task to end.
func (e *Eval) Demand() []ebb.Demand {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ready.n == 0 {
		return nil
	}
	now := time.Now()
	if e.waitOver(now) && e.placeLocked(now) > 0 {
		e.broadcast()
	}
	ws, bins := e.bins(true)
	placed := map[*shape]int{}
	// A shape whose tasks wait for the primary (b < 0) is no demand:
	// held capacity will run it.
	placeReady(e.ready.ordered(e.ranksTimed), bins, e.longTasks(ws, bins, now), func(s *shape, _, n int) { placed[s] += n })
	var out []ebb.Demand
	for _, s := range e.ready.shapes {
		if n := s.len() - placed[s]; n > 0 {
			d, atLeast := e.shapeDuration(s, now)
			out = append(out, ebb.Demand{Resources: s.res.Clone(), Count: n, Duration: d, AtLeast: atLeast})
		}
	}
	return out
}

// Drain tells the alloc with the given ID to take no new task: its Work
// returns nil once the tasks it runs have finished, so that the alloc can
// be freed without killing any. Before it returns, it copies to the
// eval's repository the outputs made there that tasks not yet done read,
// when the repository leaves them on the workers that made them
// (repository.Located): the alloc's worker may stop once it is freed. It
// reports whether such an alloc works for the eval.
func (e *Eval) Drain(allocID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, w := range e.workers {
		if w.alloc.ID() == allocID {
			w.draining = true
			e.woken = true // make sure the worker hears it
			e.broadcast()
			return true
		}
	}
	return false
}

// Load returns what each alloc working for the eval is doing, in no
// particular order. The result is the caller's.
func (e *Eval) Load() []ebb.AllocLoad {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]ebb.AllocLoad, 0, len(e.workers))
	for _, w := range e.workers {
		out = append(out, ebb.AllocLoad{
			ID:        w.alloc.ID(),
			Resources: w.alloc.Resources(),
			Free:      w.free.Clone(),
			Running:   w.running,
			IdleSince: w.idleSince,
			Draining:  w.draining,
		})
	}
	return out
}
