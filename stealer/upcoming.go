package stealer

import (
	"cmp"
	"iter"
	"slices"
	"time"

	"github.com/ebbflow/ebb"
)

// Upcoming is work that is not ready yet but will be as soon as tasks now
// running or ready end (see Durations.NextWave): Count tasks that each
// need Resources, all of them expected
// ready within In of the snapshot's Now. Duration and AtLeast say how
// long one of them is expected to run, as for ready demand. Untimed says
// that In is only a lower bound: something they wait on has run longer
// than any task of its kind was seen to (or none has finished yet), so
// when it ends is a guess.
//
// Likely is when the work is likely ready: In, but with each end that is
// only a guess counted at that guess (a running task that outlived what
// is known of its kind runs half its age again, see Durations.Remaining)
// rather than at now. It equals In for timed work, and is zero for
// Follows entries.
//
// Soon is when the first of the work may be ready: each running task it
// waits on ending at the lower quartile of its remaining time (one time
// in four it ends sooner), and the task of the group whose dependencies
// so end first. In is a mean, and of a kind whose durations spread
// widely the mean of a task that has run a while may say minutes where
// it ends in a second one time in three. At most In; zero when not
// known (a policy then reads In), and for untimed work and Follows
// entries.
//
// Chain is how much longer, on average, each of the Count tasks holds
// its slot after it ends: the steps of the chains it heads (a task that
// alone depends on it, and so on, as for Follows), run in its slot one
// after the other. Zero for tasks that head none.
//
// Follows marks work that needs no capacity of its own: Count ready tasks
// that need Resources each head a chain (a task that alone depends on
// one, and so on: no fan-out, no fan-in), whose steps run in the slot of
// the step before, Duration of them on average. Such work asks for no new
// slot but holds its head's slot that much longer, so the ready backlog
// drains later than its own tasks' durations say. A Follows entry is
// Untimed and its In is zero; a policy that does not read Follows must
// skip it.
type Upcoming struct {
	ebb.Demand
	In      time.Duration `json:"in"`
	Likely  time.Duration `json:"likely,omitempty"`
	Soon    time.Duration `json:"soon,omitempty"`
	Chain   time.Duration `json:"chain,omitempty"`
	Untimed bool          `json:"untimed,omitempty"`
	Follows bool          `json:"follows,omitempty"`
}

// An UpcomingEstimator is an [Evaluator] that can tell which of its
// waiting tasks wait only on running and ready ones, and on those in
// turn (see Durations.NextWave). A
// Stealer checks for it with a type assertion and puts what it returns in
// Snapshot.Upcoming, so that a policy keeps, or buys ahead, what the next
// wave of a flow needs.
type UpcomingEstimator interface {
	// Upcoming returns the upcoming work, largest shapes first, or nil.
	// It must not block for long.
	Upcoming() []Upcoming
}

// A Wave is what Durations.NextWave reads of an evaluation. Kinds holds
// every kind of the flow, indexed as Kind returns them, each with its
// name, hint, and the ages of its running tasks in Running; Tasks[k]
// lists the running tasks of kind k, in the order of Kinds[k].Running.
type Wave struct {
	Kinds []KindWork
	Tasks [][]int32
	// Kind returns a task's index in Kinds.
	Kind func(task int32) int
	// Dependents returns the tasks that depend on task.
	Dependents func(task int32) []int32
	// Waiting returns how many of a task's dependencies are not done
	// yet, counting anything else that holds it back (an arrival to
	// come) as one more: a task is upcoming when that many of its
	// dependencies are running.
	Waiting func(task int32) int
	// Resources returns what a task needs. NextWave keeps no reference
	// to it.
	Resources func(task int32) ebb.Resources
	// Ranked says that ready tasks start in order of their upward rank
	// weighed by durations known for every kind (see
	// Durations.Weights), so that the longest chain by those durations
	// starts first.
	Ranked bool
	// Ready yields the tasks that are ready and not running yet, those
	// to start soonest first as far as the caller can tell, or is nil.
	// NextWave reads at most maxReadySources of them.
	Ready iter.Seq[int32]
	// ReadyCount is how many tasks Ready yields, when the caller knows
	// it; zero says nothing. Critical, whose walk these alone would
	// take past its budget, then gives up without walking them.
	ReadyCount int
	// Cpus is the capacity held, on which Critical list-schedules the
	// work left (Critical.Packed); zero for none.
	Cpus float64
	// Scale returns how much longer than its kinds' estimates the chain
	// behind a running or ready task is expected to run, from what the
	// tasks that led to it took (Lineage.Scale), or is nil: 1 for all.
	Scale func(task int32) float64
	// Size returns how much longer than its kind's estimate a task is
	// expected to run, from what it took in an earlier run of the flow,
	// and whether that is known (TaskSizes.Size); or is nil: nothing is
	// known of any task.
	Size func(task int32) (float64, bool)
	// SizesSure says that the sizes Size gives say more of the tasks
	// than their kinds' spread (TaskSizes.Sure): a running task of known
	// size is expected to end when its size says.
	SizesSure bool
	// Arriving says that tasks are still to join the flow (a simulated
	// workload's arrivals to come), so that the tasks Critical finds
	// left are not all there will be (Critical.Walked stays false).
	Arriving bool
}

// maxReadySources is how many ready tasks NextWave reads: a bound on its
// cost. Ready tasks matter to it when capacity is idle, and then few are
// ready (the idle capacity would run them); past that many, the backlog
// is what a policy buys for.
const maxReadySources = 64

// maxWaves is how many waves NextWave follows, and waveBudget how many
// dependents it looks at past the second: bounds on its cost. A wave far
// down is due past any allocation's latency unless its tasks are short,
// and a policy reads only what is due within its horizons.
const (
	maxWaves   = 6
	waveBudget = 4096
)

// NextWave returns the work of w about to become ready: the tasks that
// wait only on sources (tasks now running, and the first of those ready
// to start, w.Ready), then those that wait only on sources and on tasks
// of the waves before them, wave after wave, up to maxWaves waves and
// within a budget of tasks looked at (the first two waves behind the
// running tasks are always complete). It groups them by shape, kind,
// wave and whether they are timed, each group with the latest moment one of
// its tasks is expected to become ready (In: when the last of its
// dependencies ends, a running one by Remaining, a ready one no sooner
// than its Estimate from now, one of an earlier wave after its own In and
// Estimate) and how long its tasks are expected to run (as Estimate
// says). A task that waits on one whose end is only a guess (no task of
// its kind seen to run that long, or not yet seen to finish) goes into a
// group of its own marked Untimed, with In a lower bound: such a running
// task may end at any moment, so it counts as ending now. Groups come
// largest shape first, then timed before untimed, then soonest; after
// them come the chains behind ready tasks (Upcoming.Follows), one entry
// per shape of their heads. The result is the caller's.
//
// What a ready task makes ready is work a policy must not drain the
// capacity for (a serial step whose task waits for a slot, a short task
// whose children come a second later), but when the ready task starts
// nobody can tell: it is counted as starting now, and all that waits on
// it is Untimed, In a lower bound. Each task of a wave takes the slot of
// one it waits on when one ends (the next step of a chain runs where the
// step before ran), so only the rest asks for new capacity. What a ready
// task's chain holds its slot for is summed, step by step within the
// waves followed, and reported by the shape of the ready task (Follows);
// what an upcoming task's chain holds its slot for is reported with its
// group (Chain).
//
// Its cost is in the running tasks, the ready ones it reads (at most
// maxReadySources) and their dependents a few waves down, never in the
// whole flow: an evaluation calls it at every snapshot.
func (d *Durations) NextWave(w Wave) []Upcoming {
	type cand struct {
		deps    int           // dependencies seen among sources and earlier waves
		in      time.Duration // the latest moment one of them ends
		likely  time.Duration // the same, guesses counted (Upcoming.Likely)
		soon    time.Duration // the same, each end at its lower quartile (Upcoming.Soon)
		unknown bool          // one of them has no timed end
		wave    int           // its wave once it qualified, else 0
		round   int           // the last round that saw it, plus one
		head    int32         // the ready or upcoming task whose chain it is a step of, else -1
	}
	cands := make(map[int32]*cand)
	var order []int32   // candidates in the order first seen
	var touched []int32 // candidates seen in this round
	round := 0
	// see counts one dependency of c ending at end, or likely at
	// likely, or one time in earlyOdds by soon; head is the ready task
	// whose chain c would continue (its dependency has no other
	// dependent), or -1.
	see := func(c int32, end, likely, soon time.Duration, known bool, head int32) {
		e := cands[c]
		if e == nil {
			e = &cand{head: -1}
			cands[c] = e
			order = append(order, c)
		}
		if e.wave != 0 {
			return // a dependency counted twice cannot be: it qualified
		}
		e.deps++
		if e.deps == 1 {
			e.head = head
		} else {
			e.head = -1 // a fan-in: the end of no one chain
		}
		e.in = max(e.in, end)
		e.likely = max(e.likely, likely)
		e.soon = max(e.soon, soon)
		e.unknown = e.unknown || !known
		if e.round != round+1 {
			e.round = round + 1
			touched = append(touched, c)
		}
	}
	// Each kind's curve, made once, for its estimate and its running
	// tasks'.
	curves := make([]*survival, len(w.Kinds))
	curveOf := func(k int) *survival {
		if curves[k] == nil {
			curves[k] = d.survival(w.Kinds[k].Kind, w.Kinds[k].Running)
		}
		return curves[k]
	}
	// Each kind's estimate, made once.
	type estimate struct {
		est   time.Duration
		timed bool // a hint times it as Remaining does; a bound from running ages alone does not
		done  bool
	}
	ests := make([]estimate, len(w.Kinds))
	estimateOf := func(k int) estimate {
		if k < 0 || k >= len(ests) {
			return estimate{done: true}
		}
		if e := ests[k]; e.done {
			return e
		}
		kw := w.Kinds[k]
		est, atLeast := curveOf(k).estimate(kw.Hint)
		ests[k] = estimate{est, est > 0 && (!atLeast || kw.Hint >= est), true}
		return ests[k]
	}
	// The sources: running tasks, then ready ones.
	nsources := min(max(0, w.ReadyCount), maxReadySources)
	for _, ts := range w.Tasks {
		nsources += len(ts)
	}
	sources := make([]int32, 0, nsources)
	for k, kw := range w.Kinds {
		if k >= len(w.Tasks) {
			break
		}
		if len(kw.Running) == 0 {
			continue
		}
		curve := curveOf(k)
		left, timed := curve.remaining(kw.Hint)
		// The quartile of the last age read it (tasks started together
		// come together).
		quartileAge, quartile, quartileOK := time.Duration(-1), time.Duration(0), false
		for i, t := range w.Tasks[k] {
			if i >= len(left) {
				break
			}
			sources = append(sources, t)
			deps := w.Dependents(t)
			if len(deps) == 0 {
				continue
			}
			// One that has run longer than any of its kind seen to
			// finish (or whose kind none has) may end at any moment:
			// Remaining's guess for it (half its age again) is no
			// bound, so what waits on it is due no sooner than now.
			// Ages and the kind's durations are over each task's
			// size (see TaskSizes.Learn).
			size, sized := w.size(t)
			likely := time.Duration(left[i] * size)
			end, soon := likely, time.Duration(0)
			if sized && w.SizesSure && timed[i] {
				if left := sizedLeft(size, float64(estimateOf(k).est), float64(kw.Running[i])); left > 0 {
					// A task of known size ends about when its size
					// says, not when its kind's spread does.
					likely = time.Duration(left)
					end, soon = likely, likely
				}
			}
			if !timed[i] {
				end = 0
			} else if soon == 0 {
				if a := kw.Running[i]; a != quartileAge {
					quartileAge = a
					quartile, quartileOK = curve.early(a)
				}
				// Timed by a hint alone, no quartile is known: the
				// mean.
				soon = end
				if quartileOK {
					soon = min(time.Duration(float64(quartile)*size), end)
				}
			}
			for _, c := range deps {
				see(c, end, likely, soon, timed[i], -1)
			}
		}
	}
	if w.Ready != nil {
		n := 0
		for t := range w.Ready {
			if n == maxReadySources {
				break
			}
			n++
			deps := w.Dependents(t)
			if len(deps) == 0 {
				continue
			}
			sources = append(sources, t)
			// When it starts is not known: it waits for a slot
			// (else it would run), so what it makes ready comes no
			// sooner than its estimate from now, and is untimed.
			est := estimateOf(w.Kind(t)).est
			if size, _ := w.size(t); size != 1 {
				est = time.Duration(float64(est) * size)
			}
			head := int32(-1)
			if len(deps) == 1 {
				head = t
			}
			for _, c := range deps {
				see(c, est, est, est, false, head)
			}
		}
	}
	// Wave after wave: a candidate all of whose dependencies were seen
	// qualifies, and its dependents are seen in the next round.
	waves := [][]int32{sources}
	looked := 0
	for wave := 1; wave <= maxWaves && len(touched) > 0; wave++ {
		var q []int32
		for _, c := range touched {
			if e := cands[c]; e.wave == 0 && w.Waiting(c) == e.deps {
				e.wave = wave
				q = append(q, c)
				if e.head >= 0 && (e.deps != 1 || !w.Resources(c).Fits(w.Resources(e.head))) {
					e.head = -1 // it needs a slot of its own
				}
			}
		}
		touched = touched[:0]
		round++
		if len(q) == 0 {
			break
		}
		waves = append(waves, q)
		if wave == maxWaves || (wave >= 2 && looked > waveBudget) {
			break
		}
		for _, c := range q {
			e := cands[c]
			est := estimateOf(w.Kind(c))
			if size, _ := w.size(c); size != 1 {
				est.est = time.Duration(float64(est.est) * size)
			}
			deps := w.Dependents(c)
			if wave >= 2 {
				looked += len(deps)
			}
			head := int32(-1)
			if len(deps) == 1 {
				// Its lone dependent continues its chain, or the
				// one it is a step of.
				head = e.head
				if head < 0 {
					head = c
				}
			}
			for _, c2 := range deps {
				see(c2, e.in+est.est, e.likely+est.est, e.soon+est.est, !e.unknown && est.timed, head)
			}
		}
	}
	// A wave needs no new capacity for a task that takes the slot of one
	// it waits on: each task of a wave with a dependent in the next
	// frees a slot for it.
	freed := make([]freeSlots, len(waves))
	for v := 1; v < len(waves); v++ {
		for _, t := range waves[v-1] {
			if slices.ContainsFunc(w.Dependents(t), func(c int32) bool { e := cands[c]; return e != nil && e.wave == v }) {
				freed[v].add(w.Resources(t))
			}
		}
	}
	type key struct {
		shape   string
		kind    int
		wave    int // a later wave of a kind comes later: not one group
		untimed bool
	}
	type acc struct {
		key
		res    ebb.Resources
		count  int
		in     time.Duration
		likely time.Duration
		soon   time.Duration // the earliest of its tasks'
		chain  time.Duration // summed over its tasks
	}
	var accs []acc
	index := make(map[key]int)
	accOf := make(map[int32]int) // a task asking for a slot → its group
	for _, c := range order {
		e := cands[c]
		if e.wave == 0 {
			continue
		}
		res := w.Resources(c)
		if freed[e.wave].take(res) {
			continue
		}
		k := key{res.String(), w.Kind(c), e.wave, e.unknown}
		j, ok := index[k]
		if !ok {
			j = len(accs)
			index[k] = j
			accs = append(accs, acc{key: k, res: res.Clone(), soon: e.soon})
		}
		accOf[c] = j
		accs[j].count++
		accs[j].in = max(accs[j].in, e.in)
		accs[j].likely = max(accs[j].likely, e.likely)
		accs[j].soon = min(accs[j].soon, e.soon)
	}
	// The chains: each step's estimate, summed by head; an upcoming
	// head's goes with its group, a ready head's by the heads' shape.
	work := make(map[int32]time.Duration)
	var heads []int32
	for _, c := range order {
		e := cands[c]
		if e.wave == 0 || e.head < 0 {
			continue
		}
		if _, ok := work[e.head]; !ok {
			heads = append(heads, e.head)
		}
		work[e.head] += estimateOf(w.Kind(c)).est
	}
	var chains []Upcoming
	byShape := make(map[string]int)
	for _, h := range heads {
		if work[h] <= 0 {
			continue
		}
		if e := cands[h]; e != nil && e.wave > 0 {
			// An upcoming head: one that takes a running task's
			// slot leaves that slot busy longer, which no one asks
			// for.
			if j, ok := accOf[h]; ok {
				accs[j].chain += work[h]
			}
			continue
		}
		res := w.Resources(h)
		j, ok := byShape[res.String()]
		if !ok {
			j = len(chains)
			byShape[res.String()] = j
			chains = append(chains, Upcoming{Demand: ebb.Demand{Resources: res.Clone()}, Untimed: true, Follows: true})
		}
		chains[j].Count++
		chains[j].Duration += work[h] // a sum until divided below
	}
	for i := range chains {
		chains[i].Duration /= time.Duration(chains[i].Count)
	}
	slices.SortStableFunc(chains, func(a, b Upcoming) int { return cmpSize(a.Resources, b.Resources) })
	if len(accs) == 0 && len(chains) == 0 {
		return nil
	}
	out := make([]Upcoming, 0, len(accs)+len(chains))
	for _, a := range accs {
		est, atLeast := curveOf(a.kind).estimate(w.Kinds[a.kind].Hint)
		soon := min(a.soon, a.in)
		if a.untimed {
			soon = 0
		}
		out = append(out, Upcoming{Demand: ebb.Demand{Resources: a.res, Count: a.count, Duration: est, AtLeast: atLeast},
			In: a.in, Likely: max(a.in, a.likely), Soon: soon, Chain: a.chain / time.Duration(a.count), Untimed: a.untimed})
	}
	slices.SortStableFunc(out, func(a, b Upcoming) int {
		if c := cmpSize(a.Resources, b.Resources); c != 0 {
			return c
		}
		if a.Untimed != b.Untimed {
			if b.Untimed {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.In, b.In)
	})
	return append(out, chains...)
}

// cmpSize orders shapes largest first, ties by their text.
func cmpSize(a, b ebb.Resources) int {
	if sa, sb := a.Size(), b.Size(); sa != sb {
		if sa > sb {
			return -1
		}
		return 1
	}
	as, bs := a.String(), b.String()
	switch {
	case as < bs:
		return -1
	case as > bs:
		return 1
	}
	return 0
}

// freeSlots counts the slots a wave's tasks leave free as they end, by shape.
type freeSlots struct {
	shapes []ebb.Resources
	n      []int
	index  map[string]int
}

func (f *freeSlots) add(r ebb.Resources) {
	k := r.String()
	i, ok := f.index[k]
	if !ok {
		if f.index == nil {
			f.index = make(map[string]int)
		}
		i = len(f.shapes)
		f.index[k] = i
		f.shapes = append(f.shapes, r)
		f.n = append(f.n, 0)
	}
	f.n[i]++
}

// take takes a slot that r fits in, and reports whether there was one.
func (f *freeSlots) take(r ebb.Resources) bool {
	for i, s := range f.shapes {
		if f.n[i] > 0 && r.Fits(s) {
			f.n[i]--
			return true
		}
	}
	return false
}
