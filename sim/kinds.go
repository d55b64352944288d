package sim

import (
	"math/bits"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

// A simKind is the tasks of one Task.Kind: its name and how many of
// them run.
type simKind struct {
	name    string
	running int
}

// shapeDuration returns how long a ready task of s is expected to run,
// and whether that is only a lower bound, as runner.Eval's Demand says
// (stealer.Durations.Mean over the kinds of its ready tasks).
func (e *engine) shapeDuration(s *tshape, r runningTasks) (time.Duration, bool) {
	work := make([]stealer.KindWork, 0, len(s.kinds))
	for k, c := range s.kinds {
		if c <= 0 {
			continue
		}
		work = append(work, stealer.KindWork{Kind: e.kinds[k].name, Count: c, Units: s.units[k], Running: r.ages[k]})
	}
	return e.durs.Mean(work)
}

// runningTasks is the tasks that run, kind by kind, in order of their
// indexes, and their ages, each over its size (stealer.TaskSizes.Age):
// what a snapshot's estimates read, gathered once for all of them.
type runningTasks struct {
	tasks [][]int32
	ages  [][]time.Duration
}

// runningNow returns the tasks that run now and their ages, in slices
// the engine reuses from one snapshot to the next (a snapshot's
// estimates read them while it is made, and keep none of them).
func (e *engine) runningNow() runningTasks {
	r := &e.runBuf
	if len(r.tasks) != len(e.kinds) {
		r.tasks = make([][]int32, len(e.kinds))
		r.ages = make([][]time.Duration, len(e.kinds))
	}
	for k := range e.kinds {
		r.tasks[k] = r.tasks[k][:0]
		r.ages[k] = r.ages[k][:0]
	}
	if e.running == 0 {
		return *r
	}
	for w, word := range e.runningSet {
		for word != 0 {
			i := int32(w*64 + bits.TrailingZeros64(word))
			word &= word - 1
			k := e.kindOf[i]
			r.tasks[k] = append(r.tasks[k], i)
			r.ages[k] = append(r.ages[k], e.sizes.Age(i, e.now-e.startedAt[i]))
		}
	}
	return *r
}

// ranks returns each task's upward rank as runner.Eval computes it: each
// task weighing what its kind is expected to take by what is known when
// the run starts (stealer.Durations.Weights), never its true duration;
// and whether every kind's duration was known, so that the ranks are
// times. It keeps each kind's weight in e.kindRun.
func (e *engine) ranks(order []int32) ([]float64, bool) {
	est := make([]stealer.KindWork, len(e.kinds))
	for k, kd := range e.kinds {
		est[k] = stealer.KindWork{Kind: kd.name}
	}
	w, timed := e.durs.Weights(est)
	e.kindRun = w
	return ebb.UpwardRanks(order,
		func(i int32) []int32 { return e.dependents[e.depStart[i]:e.depStart[i+1]] },
		func(i int32) float64 { return w[e.kindOf[i]] * e.sizes.Of(i) }), timed
}

// runningLeft returns how much longer, on average, the running tasks are
// expected to run, as runner.Eval's Remaining says (from what is known,
// never their true durations).
func (e *engine) runningLeft(r runningTasks) time.Duration {
	work := make([]stealer.KindWork, len(e.kinds))
	for k, kd := range e.kinds {
		work[k] = stealer.KindWork{Kind: kd.name, Running: r.ages[k]}
		if e.sizes.Any() {
			for _, i := range r.tasks[k] {
				work[k].Sizes = append(work[k].Sizes, e.sizes.Of(i))
			}
		}
	}
	return e.durs.RunningLeft(work)
}

// lookaheadFree is a policy that reads neither Snapshot.Upcoming nor
// Snapshot.Critical, as the baselines do not: the engine spares their
// cost, a walk of the flow at every snapshot, and leaves them empty.
type lookaheadFree interface{ lookaheadFree() }

// lookahead returns the work about to become ready behind the running and
// the ready tasks, and the flow's longest chains with the work left
// list-scheduled on cpus, as runner.Eval's Upcoming and Critical say
// (stealer.Durations.NextWave and Critical, from what is known, never the
// true durations).
func (e *engine) lookahead(r runningTasks, cpus float64) ([]stealer.Upcoming, stealer.Critical) {
	if e.running == 0 && e.readyN == 0 {
		return nil, stealer.Critical{}
	}
	w := stealer.Wave{
		Kinds:      make([]stealer.KindWork, len(e.kinds)),
		Tasks:      make([][]int32, len(e.kinds)),
		Kind:       func(i int32) int { return int(e.kindOf[i]) },
		Dependents: func(i int32) []int32 { return e.dependents[e.depStart[i]:e.depStart[i+1]] },
		Waiting:    func(i int32) int { return int(e.waiting[i]) },
		Scale:      func(i int32) float64 { return e.lineage[i].Scale() },
		Size:       e.sizes.Size,
		SizesSure:  e.sizes.Sure(),
		Resources:  func(i int32) ebb.Resources { return e.tasks[i].shape.res },
		Ranked:     e.ranksTimed,
		ReadyCount: e.readyN,
		Cpus:       cpus,
		Arriving:   e.nextArr < len(e.byArrival),
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
		w.Kinds[k] = stealer.KindWork{Kind: kd.name, Running: r.ages[k]}
		w.Tasks[k] = r.tasks[k]
	}
	return e.durs.NextWave(w), e.durs.Critical(w)
}

// learned records that task i ran for took, and re-weighs the ranks as
// runner.Eval does: when that is due (rankq.Reweigh), every task's rank
// is computed anew and the ready ones take their new order. It returns
// what the task was expected to take before, its kind's estimate times
// its size (zero when nothing was known), for the lineage of the tasks
// behind (see stealer.TaskSizes.Learn).
func (e *engine) learned(i int32, took time.Duration) (expected time.Duration) {
	expected, first := e.sizes.Learn(&e.durs, i, e.kinds[e.kindOf[i]].name, took, 0)
	if !e.reweigh.Due(first, len(e.kinds)) {
		return expected
	}
	e.taskRank, _ = e.ranks(e.order)
	for _, s := range e.readyShapes {
		s.q.Rerank(func(i int32) float64 { return e.taskRank[i] })
	}
	return expected
}
