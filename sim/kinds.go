package sim

import (
	"slices"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

// A simKind is the tasks of one Task.Kind: when each of them that runs
// was started.
type simKind struct {
	name    string
	running map[int32]time.Duration // task → start
}

// shapeDuration returns how long a ready task of s is expected to run,
// and whether that is only a lower bound, as runner.Eval's Demand says
// (stealer.Durations.Mean over the kinds of its ready tasks).
func (e *engine) shapeDuration(s *tshape) (time.Duration, bool) {
	work := make([]stealer.KindWork, 0, len(s.kinds))
	for k, c := range s.kinds {
		if c <= 0 {
			continue
		}
		kd := e.kinds[k]
		w := stealer.KindWork{Kind: kd.name, Count: c, Running: make([]time.Duration, 0, len(kd.running))}
		for _, at := range kd.running {
			w.Running = append(w.Running, e.now-at)
		}
		work = append(work, w)
	}
	return e.durs.Mean(work)
}

// ranks returns each task's upward rank as runner.Eval computes it: each
// task weighing what its kind is expected to take by what is known when
// the run starts (stealer.Durations.Weights), never its true duration;
// and whether every kind's duration was known, so that the ranks are
// times.
func (e *engine) ranks(order []int32) ([]float64, bool) {
	est := make([]stealer.KindWork, len(e.kinds))
	for k, kd := range e.kinds {
		est[k] = stealer.KindWork{Kind: kd.name}
	}
	w, timed := e.durs.Weights(est)
	return ebb.UpwardRanks(order,
		func(i int32) []int32 { return e.dependents[e.depStart[i]:e.depStart[i+1]] },
		func(i int32) float64 { return w[e.tasks[i].kind] }), timed
}

// runningLeft returns how much longer, on average, the running tasks are
// expected to run, as runner.Eval's Remaining says (from what is known,
// never their true durations).
func (e *engine) runningLeft() time.Duration {
	work := make([]stealer.KindWork, 0, len(e.kinds))
	for _, kd := range e.kinds {
		w := stealer.KindWork{Kind: kd.name}
		for _, at := range kd.running {
			w.Running = append(w.Running, e.now-at)
		}
		work = append(work, w)
	}
	return e.durs.RunningLeft(work)
}

// lookahead returns the work about to become ready behind the running and
// the ready tasks, and the flow's longest chains, as runner.Eval's
// Upcoming and Critical say (stealer.Durations.NextWave and Critical,
// from what is known, never the true durations).
func (e *engine) lookahead() ([]stealer.Upcoming, stealer.Critical) {
	if e.running == 0 && e.readyN == 0 {
		return nil, stealer.Critical{}
	}
	w := stealer.Wave{
		Kinds:      make([]stealer.KindWork, len(e.kinds)),
		Tasks:      make([][]int32, len(e.kinds)),
		Kind:       func(i int32) int { return int(e.tasks[i].kind) },
		Dependents: func(i int32) []int32 { return e.dependents[e.depStart[i]:e.depStart[i+1]] },
		Waiting:    func(i int32) int { return int(e.waiting[i]) },
		Resources:  func(i int32) ebb.Resources { return e.tasks[i].shape.res },
		Ranked:     e.ranksTimed,
		Ready: func(yield func(int32) bool) {
			for _, s := range e.readyShapes {
				for i := range s.q.All() {
					if !yield(i) {
						return
					}
				}
			}
		},
	}
	for k, kd := range e.kinds {
		ts := make([]int32, 0, len(kd.running))
		for i := range kd.running {
			ts = append(ts, i)
		}
		slices.Sort(ts)
		ages := make([]time.Duration, len(ts))
		for j, i := range ts {
			ages[j] = e.now - kd.running[i]
		}
		w.Kinds[k] = stealer.KindWork{Kind: kd.name, Running: ages}
		w.Tasks[k] = ts
	}
	return e.durs.NextWave(w), e.durs.Critical(w)
}

// learned records that a task of kind k ran for took, and re-weighs the
// ranks as runner.Eval does: when that is due (rankq.Reweigh), every
// task's rank is computed anew and the ready ones take their new order.
func (e *engine) learned(k int32, took time.Duration) {
	if !e.reweigh.Due(e.durs.Observe(e.kinds[k].name, took), len(e.kinds)) {
		return
	}
	e.taskRank, _ = e.ranks(e.order)
	for _, s := range e.readyShapes {
		s.q.Rerank(func(i int32) float64 { return e.taskRank[i] })
	}
}
