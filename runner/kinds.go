package runner

import (
	"cmp"
	"slices"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

// A kind is the tasks of one ebb.Task.KindName: their duration hint and
// when each of them that runs was started. Its fields are guarded by the
// Eval's mutex.
type kind struct {
	name    string
	hint    time.Duration // the longest Estimate of its tasks
	running []runningTask // in no particular order (see Eval.started)
}

// A runningTask is a task handed to an alloc, the worker of that alloc,
// and when.
type runningTask struct {
	t  int32
	w  *worker
	at time.Time
}

// kindsOf interns the kinds of the flow's tasks: it returns each task's
// kind index and the kinds.
func kindsOf(tasks []ebb.Task) ([]int32, []*kind) {
	of := make([]int32, len(tasks))
	index := map[string]int32{}
	var kinds []*kind
	last, lastK := "", int32(-1) // tasks in a row are often of one kind
	for i := range tasks {
		name := tasks[i].KindName()
		k, ok := lastK, lastK >= 0 && name == last
		if !ok {
			k, ok = index[name]
		}
		if !ok {
			k = int32(len(kinds))
			index[name] = k
			kinds = append(kinds, &kind{name: name})
		}
		kinds[k].hint = max(kinds[k].hint, tasks[i].Estimate)
		of[i] = k
		last, lastK = name, k
	}
	return of, kinds
}

// started records that task t was handed to w's alloc now: it joins its
// kind's running tasks, and its taskState.pos says where, so that
// stopped takes it out without a search or a map. e.mu is held.
func (e *Eval) started(t int32, w *worker, now time.Time) {
	kd := e.kinds[e.kindOf[t]]
	e.tasks[t].pos = int32(len(kd.running))
	kd.running = append(kd.running, runningTask{t, w, now})
}

// stopped records that task t runs no more: the last of its kind's
// running tasks takes its place. A task not running is left alone.
// e.mu is held.
func (e *Eval) stopped(t int32) {
	kd := e.kinds[e.kindOf[t]]
	i := e.tasks[t].pos
	if i < 0 || int(i) >= len(kd.running) || kd.running[i].t != t {
		return
	}
	last := len(kd.running) - 1
	kd.running[i] = kd.running[last]
	e.tasks[kd.running[i].t].pos = i
	kd.running = kd.running[:last]
}

// shapeDuration returns how long a ready task of s is expected to run,
// and whether that is only a lower bound (stealer.Durations.Mean over the
// kinds of its ready tasks). e.mu is held.
func (e *Eval) shapeDuration(s *shape, now time.Time) (time.Duration, bool) {
	work := make([]stealer.KindWork, 0, len(s.kinds))
	for k, c := range s.kinds {
		if c <= 0 {
			continue
		}
		kd := e.kinds[k]
		w := stealer.KindWork{Kind: kd.name, Count: c, Hint: kd.hint, Running: make([]time.Duration, 0, len(kd.running))}
		if k < len(s.units) {
			w.Units = s.units[k]
		}
		for _, r := range kd.running {
			w.Running = append(w.Running, e.sizes.Age(r.t, now.Sub(r.at)))
		}
		work = append(work, w)
	}
	return e.durations.Mean(work)
}

// History returns what the eval has learned of its tasks' durations, by
// kind, with what it started from (EvalConfig.History): what the next run
// of the flow should start from. The result is the caller's.
func (e *Eval) History() stealer.Profile {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.durations.Profile()
}

// Sizes returns how long each task that ran in this eval took against
// its kind's estimate now, and for those that did not, the size it
// started from (EvalConfig.Sizes): what the next run of the flow should
// start from (see stealer.TaskSizes.Sizes). The result is the caller's.
func (e *Eval) Sizes() stealer.Sizes {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sizes.Sizes(&e.durations,
		func(i int) string { return e.g.Flow.Tasks[i].Name },
		func(i int) string { return e.kinds[e.kindOf[i]].name }, e.cfg.Sizes)
}

// SizeFit returns how much of the sizes it started from
// (EvalConfig.Sizes) showed in what the eval's tasks took (see
// stealer.SizeFit): what the next run of the flow should start from.
func (e *Eval) SizeFit() stealer.SizeFit {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sizes.Fit()
}

// ranks returns each task's upward rank (ebb.UpwardRanks), each task
// weighing what its kind is expected to take (see stealer.Durations.Weights)
// times its size (see stealer.TaskSizes), and whether every kind's duration was known, so that the ranks are times.
// It keeps those weights in e.kindRun.
func (e *Eval) ranks() ([]float64, bool) {
	est := make([]stealer.KindWork, len(e.kinds))
	for k, kd := range e.kinds {
		est[k] = stealer.KindWork{Kind: kd.name, Hint: kd.hint}
	}
	w, timed := e.durations.Weights(est)
	e.kindRun = w
	return ebb.UpwardRanks(e.g.Order,
		func(i int32) []int32 { return e.dependents.of(i) },
		func(i int32) float64 { return w[e.kindOf[i]] * e.sizes.Of(i) }), timed
}

// Remaining returns how much longer, on average, the tasks now running are
// expected to run (stealer.Durations.RunningLeft), or 0 when none runs.
func (e *Eval) Remaining() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	work := make([]stealer.KindWork, 0, len(e.kinds))
	for _, kd := range e.kinds {
		w := stealer.KindWork{Kind: kd.name, Hint: kd.hint}
		for _, r := range kd.running {
			w.Running = append(w.Running, e.sizes.Age(r.t, now.Sub(r.at)))
			if e.sizes.Any() {
				w.Sizes = append(w.Sizes, e.sizes.Of(r.t))
			}
		}
		work = append(work, w)
	}
	return e.durations.RunningLeft(work)
}

// Upcoming returns the work about to become ready behind the running and
// the ready tasks, wave after wave (stealer.Durations.NextWave), so that
// a policy keeps or buys ahead what the next wave of the flow needs.
func (e *Eval) Upcoming() []stealer.Upcoming {
	e.mu.Lock()
	defer e.mu.Unlock()
	w, ok := e.wave(time.Now())
	if !ok {
		return nil
	}
	return e.durations.NextWave(w)
}

// Critical returns the flow's longest chains from its running tasks, its
// ready ones and its next wave, and the work left list-scheduled on cpus
// (stealer.Durations.Critical), so that a policy does not buy what cannot
// end the flow sooner.
func (e *Eval) Critical(cpus float64) stealer.Critical {
	e.mu.Lock()
	defer e.mu.Unlock()
	w, ok := e.wave(time.Now())
	if !ok {
		return stealer.Critical{}
	}
	w.Cpus = cpus
	return e.durations.Critical(w)
}

// wave returns what stealer.Durations reads of the evaluation at now, or
// false when nothing runs nor is ready. The caller holds e.mu for as long
// as it uses the result.
func (e *Eval) wave(now time.Time) (stealer.Wave, bool) {
	if e.counts.Running == 0 && e.ready.n == 0 {
		return stealer.Wave{}, false
	}
	w := stealer.Wave{
		Kinds:      make([]stealer.KindWork, len(e.kinds)),
		Tasks:      make([][]int32, len(e.kinds)),
		Kind:       func(i int32) int { return int(e.kindOf[i]) },
		Dependents: func(i int32) []int32 { return e.dependents.of(i) },
		Waiting: func(i int32) int {
			if e.tasks[i].state != waiting {
				return -1
			}
			return int(e.waiting[i])
		},
		Resources:  func(i int32) ebb.Resources { return e.shapes[i].res },
		Scale:      func(i int32) float64 { return e.lineage[i].Scale() },
		Size:       e.sizes.Size,
		SizesSure:  e.sizes.Sure(),
		Ranked:     e.ranksTimed,
		ReadyCount: e.ready.n,
		Ready: func(yield func(int32) bool) {
			for _, s := range e.ready.shapes {
				for i := range s.q.All() {
					if !yield(i) {
						return
					}
				}
			}
		},
	}
	for k, kd := range e.kinds {
		running := slices.SortedFunc(slices.Values(kd.running), func(a, b runningTask) int { return cmp.Compare(a.t, b.t) })
		ts := make([]int32, len(running))
		ages := make([]time.Duration, len(running))
		for j, r := range running {
			ts[j], ages[j] = r.t, e.sizes.Age(r.t, now.Sub(r.at))
		}
		w.Kinds[k] = stealer.KindWork{Kind: kd.name, Hint: kd.hint, Running: ages}
		w.Tasks[k] = ts
	}
	return w, true
}

// learned records that task t ran for took. When that is due
// (rankq.Reweigh: the first duration known for a kind of several), every
// task's rank is computed anew and the ready ones take their new order:
// ready tasks start longest chain first by what the run has learned, not
// only by what it knew at its start. ranksTimed keeps what the start knew
// (see Eval.ranksTimed). It returns what the task was expected to take
// before, its kind's estimate times its size (zero when nothing was
// known), for the lineage of the tasks behind (see
// stealer.TaskSizes.Learn). The caller holds e.mu.
func (e *Eval) learned(t int32, took time.Duration) (expected time.Duration) {
	k := e.kindOf[t]
	expected, first := e.sizes.Learn(&e.durations, t, e.kinds[k].name, took, e.kinds[k].hint)
	if !e.reweigh.Due(first, len(e.kinds)) {
		return expected
	}
	e.ready.rank, _ = e.ranks()
	for _, s := range e.ready.shapes {
		s.q.Rerank(func(t int32) float64 { return e.ready.rank[t] })
	}
	return expected
}
