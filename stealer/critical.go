package stealer

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/ebbflow/ebb"
)

// Critical is what the longest chains of work left in a flow say about
// when it can end (see Durations.Critical), so that a policy does not buy
// capacity that cannot end the flow sooner: while a running task's chain
// ends after the backlog starts on held capacity and runs its own chains
// out, a purchase only adds idle time. A chain's length is its tasks'
// expected durations summed, as Estimate gives them (a kind none of whose
// tasks has finished counts at its lower bound) times each task's size
// when known (Wave.Size, see Sizes), along the longest path
// of dependents: a task's upward rank, from what is known now; times the
// scale of the lineage of the running or ready task it starts from
// (Wave.Scale, see Lineage), which holds that task to at least that
// scale of its own kind's estimate too: the steps of one chain run long
// together.
type Critical struct {
	// End is how long from now the chains through running tasks are
	// expected to have ended, the latest of them: each ends when its
	// task does plus the longest chain behind it, and of many running
	// tasks the last ends later than any one is expected to, so each
	// task's remaining time counts as the spread its kind's durations
	// beyond its age give (Durations.Remaining is its mean). A running
	// task that has run longer than any of its kind seen to finish is
	// expected to run half as long again; one of a kind none of which
	// has finished counts as ending now, so that End is no later than
	// what is known. Zero when nothing runs or the flow was too large
	// to walk.
	End time.Duration `json:"end,omitempty"`
	// Chains are the chains that start from ready tasks (In zero) and
	// behind running ones (In their expected end, as in End): each one's earliest start and its length, its first task's
	// run included. Only those that no other chain starting no later and
	// as long makes moot are listed, earliest first (and so each longer
	// than the one before).
	Chains []Chain `json:"chains,omitempty"`
	// Work is the cpu time of the tasks behind the running ones and of
	// the ready ones: each one's expected run times the cpus it needs.
	// Chains say how deep the rest of the flow is; Work says how wide.
	Work time.Duration `json:"work,omitempty"`
	// Ranked says that ready tasks start longest chain first, by
	// durations known for every kind (Wave.Ranked).
	Ranked bool `json:"ranked,omitempty"`
	// Packed is how long from now the capacity held (Wave.Cpus) takes
	// to run all the work left, list-scheduled: each running task keeps
	// its cpus for its expected remaining time (its mean; none for a
	// kind none of which has finished, as in End), a task behind starts
	// no sooner than the last of its dependencies ends, and ready tasks
	// take the cpus that free up longest chain first, each running its
	// kind's Estimate times its size. Where Work over the cpus says how
	// wide the rest of the flow is and End how deep, Packed says both at
	// once: a stage that fans out behind a running task and joins again
	// waits for the task, and then for all of its branches on what is
	// held.
	// When the work alone (Work's share that fits, the running tasks'
	// remaining cpu time added) over the cpus ends after End, Packed is
	// that figure: the schedule ends no sooner. Zero when Wave.Cpus is,
	// or when the running, ready and waiting tasks are more than
	// Critical looks at.
	Packed time.Duration `json:"packed,omitempty"`
	// Cpus is the fewest cpus on which the work left, list-scheduled as
	// in Packed, ends by the time its longest chain does (End, or a
	// ready task's chain when longer): what the flow can use, past which
	// more capacity ends nothing sooner; within a 16th. Zero when Packed
	// is zero or ends by then on the capacity held already, when Ranked
	// or Walked is false, and when more than 4,096 tasks are left.
	Cpus float64 `json:"cpus,omitempty"`
	// Walked says that the flow's tasks left were walked, and that no
	// more are to join it (Wave.Arriving), so that Waiting and Left say
	// all that is left, even when End is zero because no running task's
	// end is known.
	Walked bool `json:"walked,omitempty"`
	// Waiting counts the tasks left that do not run: the ready ones
	// and every one behind a running or ready task.
	Waiting int `json:"waiting,omitempty"`
	// Left is what the Waiting tasks need, by shape, largest first,
	// when they are at most leftBudget; nil when there are more, or
	// none. It tells whether the capacity a policy keeps can hold all
	// that is left of the flow at once.
	Left []ebb.Demand `json:"left,omitempty"`
}

// A Chain is a path of tasks of a flow that can start In from now at the
// earliest and is expected to take Length once started.
type Chain struct {
	In     time.Duration `json:"in"`
	Length time.Duration `json:"length"`
}

// A CriticalEstimator is an [Evaluator] that can tell how long the
// longest chains of its flow are (see Durations.Critical). A Stealer
// checks for it with a type assertion and puts what it returns in
// Snapshot.Critical.
type CriticalEstimator interface {
	// Critical returns the flow's longest chains, or the zero value,
	// with the work left list-scheduled on cpus (Critical.Packed; none
	// when cpus is zero). It must not block for long.
	Critical(cpus float64) Critical
}

// criticalBudget is how many tasks Durations.Critical looks at: a bound
// on its cost. A flow larger than that behind its running and ready tasks
// gets a zero Critical (nothing known), and a policy buys as it would
// without one.
const criticalBudget = 1 << 15

// cpusBudget is how many running, ready and walked tasks Critical.Cpus
// is sought for at most: a bound on its cost, a list schedule of them
// for each count of cpus tried.
const cpusBudget = 1 << 12

// endSlack absorbs rounding in sums of durations, in seconds: the same
// durations summed in another order (a schedule's, a chain's) differ in
// their last bits, and a schedule that ends within endSlack of the
// chains' end ends with them.
const endSlack = 1e-3

// leftBudget is how many tasks left Critical.Left lists at most: the tail
// of a flow, where what is left may all fit on what a policy keeps.
const leftBudget = 256

// Critical returns the longest chains of w's flow (see [Critical]): each
// task behind a running or ready one weighs its kind's Estimate (its
// running tasks' ages counted, a kind with none finished at its lower
// bound) times its size (Wave.Size), each running task its expected
// remaining time (see Durations.Remaining; zero when no task of its kind
// has finished; what its size says is left when that is known), and a
// chain is the longest path of dependents; End weighs the latestOf
// running chains expected to end last by the spread of their remaining
// times (see expectedLatest), a task of known size as ending when its
// size says. It walks every task behind the running and ready ones
// once, up to criticalBudget of them; past that (at once
// when w.ReadyCount says the ready ones alone are more), it returns the
// zero value; when no running task's end is known (none runs, or none
// of their kinds has finished and nothing is behind them), only what is
// left (Walked, Waiting, Left), and the zero value when that is more
// than Left lists. Work sums what it walked; with w.Cpus,
// Packed list-schedules it on them (see packed), when the running,
// ready and walked tasks together are within criticalBudget.
func (d *Durations) Critical(w Wave) Critical {
	if w.ReadyCount > criticalBudget {
		return Critical{} // each ready task would be walked
	}
	// One curve per kind, for its estimate and its running tasks'.
	curves := make([]*survival, len(w.Kinds))
	weight := make([]float64, len(w.Kinds))
	for k, kw := range w.Kinds {
		curves[k] = d.survival(kw.Kind, kw.Running)
		est, _ := curves[k].estimate(kw.Hint)
		weight[k] = est.Seconds()
	}
	rank := make(map[int32]walkedTask)
	walked, over := 0, false
	work, cpuSum := 0.0, 0.0 // cpuSum: the cpus of every task walked and running
	workFit := 0.0           // the work of the tasks that fit on w.Cpus, running ones' included
	// rankOf is t's upward rank: its weight plus the longest rank of
	// what depends on it, each task walked once. A ready task is no
	// running or ready task's dependent, so its rank is not kept.
	var leftTasks []int32 // the first leftBudget tasks walked, for Left
	var rankOf func(t int32, keep bool) walkedTask
	rankOf = func(t int32, keep bool) walkedTask {
		if r, ok := rank[t]; ok {
			return r
		}
		if over || walked >= criticalBudget {
			over = true
			return walkedTask{}
		}
		walked++
		if walked <= leftBudget {
			leftTasks = append(leftTasks, t)
		}
		if keep {
			rank[t] = walkedTask{} // a cycle cannot be; this only bounds a broken graph
		}
		r := walkOf(w, t, weight)
		work += r.dur * r.cpu
		cpuSum += r.cpu
		if r.cpu <= w.Cpus+cpuSlack {
			workFit += r.dur * r.cpu
		}
		longest := 0.0
		for _, dep := range w.Dependents(t) {
			longest = max(longest, rankOf(dep, true).rank)
		}
		r.rank = r.dur + longest
		if keep {
			rank[t] = r
		}
		return r
	}
	var chains []Chain
	var runs []started // every running task, ending as in End, for Packed
	if w.Cpus > 0 {
		n := 0
		for _, ts := range w.Tasks {
			n += len(ts)
		}
		runs = make([]started, 0, n)
	}
	latestChain := 0.0 // the latest a running task's chain ends, each at its mean
	// The latestOf+1 running chains expected to end last, latest first.
	top := make([]chainEnd, 0, latestOf+1)
	for k, kw := range w.Kinds {
		if k >= len(w.Tasks) {
			break
		}
		if len(kw.Running) == 0 {
			continue
		}
		left, timed := curves[k].remaining(kw.Hint)
		// A task that outlived every one of its kind seen to finish
		// is expected to run half as long again (see Remaining); one
		// of a kind none of which has finished may end at any moment.
		seen := d.finished(kw.Kind)
		for i, t := range w.Tasks[k] {
			if i >= len(left) {
				break
			}
			in, floor := 0.0, 0.0
			sc := w.scale(t)
			size, sized := w.size(t)
			if timed[i] || seen {
				// Ages and the kind's durations are over each
				// task's size (see TaskSizes.Learn).
				in = size * left[i] / float64(time.Second)
				// A task whose lineage ran long runs long too.
				floor = sc*weight[k] - kw.Running[i].Seconds()
				if sized {
					floor = sizedLeft(size, sc*weight[k], kw.Running[i].Seconds())
				}
				if sized && w.SizesSure && floor > 0 {
					// A task of known size ends about when its
					// size says, not when its kind's spread does.
					in = floor
				} else {
					in = max(in, floor)
				}
			}
			longest := 0.0
			for _, dep := range w.Dependents(t) {
				longest = max(longest, rankOf(dep, true).rank)
			}
			longest *= sc
			if longest > 0 {
				chains = append(chains, Chain{In: secondsDur(in), Length: secondsDur(longest)})
			}
			top = insertLatest(top, chainEnd{k, i, in, longest, floor, size, sized && w.SizesSure && floor > 0})
			if w.Cpus > 0 {
				c := w.Resources(t)[ebb.CPU]
				cpuSum += c
				workFit += c * in
				latestChain = max(latestChain, in+longest)
				runs = append(runs, started{end: in, cpus: c, task: t})
			}
		}
	}
	// The latest to end is likely among those expected to end last:
	// their remaining times as distributions (see survival.masses),
	// the rest as expected.
	latest := top[:min(len(top), latestOf)]
	want := make([][]bool, len(w.Kinds))
	for _, r := range latest {
		if want[r.kind] == nil {
			want[r.kind] = make([]bool, len(w.Kinds[r.kind].Running))
		}
		want[r.kind][r.i] = true
	}
	masses := make([][][]mass, len(w.Kinds))
	for k, sel := range want {
		if sel != nil {
			masses[k] = curves[k].masses(sel)
		}
	}
	ends := make([][]mass, 0, len(top))
	for _, r := range latest {
		if ms := masses[r.kind]; ms != nil && len(ms[r.i]) > 0 && !r.sure {
			e := make([]mass, len(ms[r.i]))
			for j, m := range ms[r.i] {
				e[j] = mass{At: max(m.At*r.size, r.floor) + r.longest, P: m.P}
			}
			ends = append(ends, e)
			continue
		}
		ends = append(ends, []mass{{At: r.end(), P: 1}})
	}
	if len(top) > latestOf {
		// The rest end as expected, the latest of them first.
		ends = append(ends, []mass{{At: top[latestOf].end(), P: 1}})
	}
	end := expectedLatest(ends)
	ready, readyN := 0.0, 0
	if w.Ready != nil {
		for t := range w.Ready {
			if end == 0 && walked > leftBudget {
				// Nothing known of when, and more left than Left
				// lists: walking on would say nothing.
				return Critical{}
			}
			ready = max(ready, rankOf(t, false).rank*w.scale(t))
			if over {
				break
			}
			readyN++
		}
	}
	if over || end == 0 && walked > leftBudget {
		return Critical{}
	}
	c := Critical{Walked: !w.Arriving, Waiting: walked}
	if walked <= leftBudget {
		c.Left = leftOf(w, leftTasks)
	}
	if end == 0 {
		return c // what is left, and nothing of when
	}
	if ready > 0 {
		chains = append(chains, Chain{Length: secondsDur(ready)})
	}
	c.End, c.Chains, c.Work, c.Ranked = secondsDur(end), frontier(chains), secondsDur(work), w.Ranked
	switch {
	case w.Cpus <= 0:
	case cpuSum <= w.Cpus+cpuSlack:
		// Every task left fits at once: none waits for cpus, and the
		// schedule is the longest chain, each at its mean.
		c.Packed = secondsDur(max(latestChain, ready))
	case workFit/w.Cpus > end:
		// The work alone ends past End on the cpus: so does the
		// schedule, which is spared.
		c.Packed = secondsDur(workFit / w.Cpus)
	case len(runs)+readyN+len(rank) <= criticalBudget:
		c.Packed = secondsDur(packed(w, w.Cpus, runs, rank, weight))
	}
	deep := max(end, ready)
	if c.Packed > 0 && math.Abs(c.Packed.Seconds()-deep) <= endSlack {
		c.Packed = secondsDur(deep)
	}
	if c.Ranked && c.Walked && c.Packed > secondsDur(deep) && len(runs)+readyN+len(rank) <= cpusBudget {
		c.Cpus = fewestCpus(w, cpuSum, workFit, deep, runs, rank, weight)
	}
	return c
}

// fewestCpus returns about the fewest whole cpus, more than w.Cpus and
// at most all that the tasks left need at once (cpuSum), on which packed
// ends by deep, in seconds. No fewer than the work (workFit) over deep
// can: from there it tries steps a 16th as large, each twice the one
// before, then halves the gap until it is a 16th of the cpus or one, and
// returns its upper end: a list schedule for each count tried, the
// schedule ending no later on more cpus.
func fewestCpus(w Wave, cpuSum, workFit, deep float64, runs []started, rank map[int32]walkedTask, weight []float64) float64 {
	// packed ends past deep on lo cpus, by it on hi.
	lo := max(math.Floor(w.Cpus), math.Ceil(workFit/deep)-1)
	hi := math.Ceil(cpuSum)
	near := func() bool { return hi-lo <= max(1, math.Floor(lo/16)) }
	for step := max(1, math.Floor(lo/16)); !near() && lo+step < hi; step *= 2 {
		if packed(w, lo+step, runs, rank, weight) <= deep+endSlack {
			hi = lo + step
			break
		}
		lo += step
	}
	for !near() {
		mid := math.Floor((lo + hi) / 2)
		if packed(w, mid, runs, rank, weight) <= deep+endSlack {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// size returns what w.Size says of task t and whether it is known: 1
// and false when w has no Size or it knows nothing of t.
func (w Wave) size(t int32) (float64, bool) {
	if w.Size == nil {
		return 1, false
	}
	return w.Size(t)
}

// scale returns what w.Scale says of task t, or 1 when w has no Scale.
func (w Wave) scale(t int32) float64 {
	if w.Scale == nil {
		return 1
	}
	return w.Scale(t)
}

// leftOf returns what tasks need, by shape, largest first (see
// Critical.Left).
func leftOf(w Wave, tasks []int32) []ebb.Demand {
	if len(tasks) == 0 {
		return nil
	}
	each := make([]ebb.Demand, len(tasks))
	for i, t := range tasks {
		each[i] = ebb.Demand{Resources: w.Resources(t).Clone(), Count: 1}
	}
	return demandOf(groups(each))
}

// finished reports whether a task of kind was seen to finish.
func (d *Durations) finished(kind string) bool {
	k := d.kinds[kind]
	return k != nil && len(k.recent) > 0
}

// frontier returns the chains that no other starting no later and as long
// makes moot, earliest first.
func frontier(chains []Chain) []Chain {
	slices.SortFunc(chains, func(a, b Chain) int {
		if c := cmp.Compare(a.In, b.In); c != 0 {
			return c
		}
		return cmp.Compare(b.Length, a.Length)
	})
	out := chains[:0]
	for _, c := range chains {
		if len(out) == 0 || c.Length > out[len(out)-1].Length {
			out = append(out, c)
		}
	}
	return out
}

// secondsDur converts seconds to a Duration, bounded by maxSecs.
func secondsDur(s float64) time.Duration {
	return time.Duration(min(s, maxSecs) * float64(time.Second))
}
