package stealer

import "github.com/ebbflow/ebb"

// Critical.Packed: the work left, list-scheduled on the capacity held.

// A walkedTask is what Durations.Critical learns of a task it walks: its
// upward rank and its kind's estimate, in seconds, and its cpus.
type walkedTask struct {
	rank, dur, cpu float64
}

// A readyTask is a ready task and what is known of it as of a walk.
type readyTask struct {
	task int32
	walkedTask
}

// walkOf returns task t's cpus and its kind's estimate (weight) times
// its size (Wave.Size), its rank left to the caller.
func walkOf(w Wave, t int32, weight []float64) walkedTask {
	r := walkedTask{cpu: w.Resources(t)[ebb.CPU]}
	if k := w.Kind(t); k >= 0 && k < len(weight) {
		size, _ := w.size(t)
		r.dur = weight[k] * size
	}
	return r
}

// readyWalked returns what a walk of Durations.Critical learns of ready
// task t (see walkOf), its upward rank read from its dependents' in rank,
// which the walk has filled.
func readyWalked(w Wave, t int32, weight []float64, rank map[int32]walkedTask) walkedTask {
	r := walkOf(w, t, weight)
	longest := 0.0
	for _, dep := range w.Dependents(t) {
		longest = max(longest, rank[dep].rank)
	}
	r.rank = r.dur + longest
	return r
}

// A started task is one the list schedule runs: it ends at end, in
// seconds from now, and gives back cpus.
type started struct {
	end  float64
	cpus float64
	task int32
}

// cpuSlack absorbs rounding in sums of fractional cpus.
const cpuSlack = 1e-9

// packed list-schedules the work left on cpus: each running task holds
// its cpus until its expected end (running); a task walked behind them
// (rank) becomes ready when the last of its dependencies ends (w.Waiting
// of them, each ending in the schedule); ready tasks (w.Ready, then those
// behind as they become ready) start, the longest rank first (the first
// seen among equals), as soon as cpus are free for them, each running
// its kind's estimate (weight). It returns when the last task ends, in
// seconds from now. A task that needs more cpus than there are is left
// out, as is one that waits on anything the schedule does not run (an
// arrival to come).
func packed(w Wave, cpus float64, running []started, rank map[int32]walkedTask, weight []float64) float64 {
	last := 0.0
	for _, r := range running {
		last = max(last, r.end)
	}
	free := cpus
	ev := heapOf[started]{less: func(a, b started) bool { return a.end < b.end }}
	for _, r := range running {
		free -= r.cpus
		ev.push(r)
	}
	type queued struct {
		readyTask
		seq int
	}
	avail := heapOf[queued]{less: func(a, b queued) bool {
		if a.rank != b.rank {
			return a.rank > b.rank
		}
		return a.seq < b.seq
	}}
	seq := 0
	if w.Ready != nil {
		for t := range w.Ready {
			avail.push(queued{readyTask{t, readyWalked(w, t, weight, rank)}, seq})
			seq++
		}
	}
	need := make(map[int32]int, len(rank))
	now := 0.0
	for {
		for len(avail.s) > 0 {
			t := avail.s[0]
			if t.cpu > cpus+cpuSlack {
				avail.pop()
				continue
			}
			if t.cpu > free+cpuSlack {
				break
			}
			avail.pop()
			free -= t.cpu
			ev.push(started{end: now + t.dur, cpus: t.cpu, task: t.task})
		}
		if len(ev.s) == 0 {
			return last
		}
		s := ev.pop()
		now = s.end
		last = max(last, now)
		free += s.cpus
		for _, dep := range w.Dependents(s.task) {
			r, ok := rank[dep]
			if !ok {
				continue
			}
			n, seen := need[dep]
			if !seen {
				n = w.Waiting(dep)
			}
			n--
			need[dep] = n
			if n == 0 {
				avail.push(queued{readyTask{dep, r}, seq})
				seq++
			}
		}
	}
}

// heapOf is a binary heap of T, the least by less on top.
type heapOf[T any] struct {
	s    []T
	less func(a, b T) bool
}

func (h *heapOf[T]) push(x T) {
	h.s = append(h.s, x)
	for i := len(h.s) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(h.s[i], h.s[p]) {
			break
		}
		h.s[i], h.s[p] = h.s[p], h.s[i]
		i = p
	}
}

func (h *heapOf[T]) pop() T {
	top := h.s[0]
	n := len(h.s) - 1
	h.s[0] = h.s[n]
	h.s = h.s[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && h.less(h.s[l], h.s[m]) {
			m = l
		}
		if r := l + 1; r < n && h.less(h.s[r], h.s[m]) {
			m = r
		}
		if m == i {
			break
		}
		h.s[i], h.s[m] = h.s[m], h.s[i]
		i = m
	}
	return top
}
