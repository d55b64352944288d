package sim

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/internal/rankq"
	"github.com/ebbflow/ebb/stealer"
)

// An engine is one run of the simulation. One goroutine owns it.
type engine struct {
	cfg Config
	// log is cfg.Log when it logs at INFO (see logPlan), else nil;
	// lastHold the Hold it last logged, and kept the reasons of the
	// last plan's keeps by alloc (Plan.Keep).
	log      *slog.Logger
	lastHold string
	kept     map[string]string
	cl       Cluster
	sp       *space
	now      time.Duration
	// t0 is when the run starts on the stealer's clock: 0, or where
	// the Memory of earlier runs left it. Figures count from it.
	t0 time.Duration
	q  events

	bootRng, failRng, jitterRng *rand.Rand

	// Tasks.
	tasks  []task
	shapes []*tshape // by rank: largest first
	// workerShapes are the cluster's shapes as cluster.PickShape takes them.
	workerShapes []cluster.Shape
	byArrival    []int32 // by run, then arrival
	nextArr      int
	runStart     []time.Duration // per run: its start, or -1 until the run before has ended
	runLeft      []int           // per run: tasks not finished
	curRun       int             // the earliest run with tasks not finished
	depStart     []int32         // dependents of task i: dependents[depStart[i]:depStart[i+1]]
	dependents   []int32
	waiting      []int32           // per task: deps not done, plus 1 until it arrives
	deps         []int32           // per task: how many tasks it waits on
	lineage      []stealer.Lineage // per task: what the tasks it waits on took (see stealer.Lineage)
	sizes        stealer.TaskSizes // per task: its size from the Memory, and what it took (see stealer.Sizes)
	remaining    int               // tasks not finished
	running      int
	readyN       int
	runningSet   []uint64        // bit i: task i runs
	startedAt    []time.Duration // task i's start, while it runs
	kindOf       []int32         // task i's kind: its index in kinds
	runBuf       runningTasks    // runningNow's slices, reused
	readyShapes  []*tshape       // shapes with ready tasks, by rank
	byRank       []*tshape       // scratch for place: readyShapes by their next task's rank
	reserved     []*alloc        // scratch for place: the allocs reserved
	takersMin    []float64       // the least that an alloc that takes tasks holds, by dimension (see takersNow)
	takersDirty  bool            // takersMin is stale: an alloc came, went or was drained
	cands        []*alloc        // scratch for reserve: the allocs it may reserve
	picked       []int           // scratch for reserve: those it reserves, in cands
	busyCPU      float64
	waitingCPU   float64
	demanded     bool // the stealer was woken for the current backlog
	placeDirty   bool
	progressAt   time.Duration // last arrival, start or finish

	// Allocs.
	primary  *alloc
	nallocs  int
	held     []*alloc // auxiliary, granted, not released; order of grant
	heldSnap []stealer.Held
	heldByID map[string]*alloc
	heldCPU  float64
	heldUp   float64 // the cpus heldSnap adds to the capacity held (stealer.Held.HeldCPU)
	dirty    []*alloc
	free     *freeIndex
	resMaps  map[string]ebb.Resources // see intern

	// Requests.
	nreqs       int
	reqs        []*request // every request made, by num
	pending     []*request // in flight, oldest first
	pendingSnap []stealer.Pending
	pendingByID map[stealer.RequestID]*request
	queue       []*request // waiting for a worker slot
	workers     int        // booting or granted
	bootingCPU  float64

	// What a stealer remembers.
	latency    []time.Duration
	waited     []time.Duration // by requests the policy cancelled
	recent     []stealer.Change
	failures   int
	retryAt    time.Duration
	onAdmit    func(stealer.Admitted) // for tests: sees every admission
	taskAvg    time.Duration
	kinds      []*simKind
	taskRank   []float64               // per task: its upward rank (ebb.UpwardRanks)
	ranksTimed bool                    // every kind's duration was known when the run started
	kindRun    []float64               // per kind: its weight in taskRank, in seconds (see ranks)
	waitSince  map[int32]time.Duration // ready tasks waiting for the primary: since when (see longTask)
	order      []int32                 // every task after those it depends on
	reweigh    rankq.Reweigh           // when taskRank is computed again (see learned)
	durs       stealer.Durations       // by kind, as runner.Eval keeps them
	timer      IdleTimer
	blind      bool // the policy reads no lookahead (see lookaheadFree)

	acc      acc
	waits    []float64
	releases []release // in order
	// maxWindow is the widest re-buy window of a release so far.
	maxWindow time.Duration
	timeline  []Sample
	stalled   string
}

type task struct {
	run          int
	arrival, dur time.Duration
	readyAt      time.Duration
	shape        *tshape
	on           *alloc
}

// A tshape is a task shape: the tasks that need exactly the same
// resources, with a FIFO queue of those that are ready.
type tshape struct {
	res        ebb.Resources
	vec        []float64
	size       float64
	cpu        float64
	rank       int
	q          rankq.Queue       // ready tasks, as runner.Eval orders them
	listed     bool              // in readyShapes
	forPrimary bool              // its next task waits for the primary (see longTask): no demand
	kinds      map[int32]int     // ready tasks by kind
	units      map[int32]float64 // their sizes summed, by kind, when any size is known (see stealer.KindWork)
}

func (s *tshape) len() int { return s.q.Len() }

func newEngine(cfg Config, cl Cluster) (*engine, error) {
	w := cfg.Workload
	order, err := w.order()
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	e := &engine{
		cfg: cfg, cl: cl, sp: newSpace(),
		heldByID:    map[string]*alloc{},
		resMaps:     map[string]ebb.Resources{},
		pendingByID: map[stealer.RequestID]*request{},
		retryAt:     -1,
	}
	e.bootRng, e.failRng, e.jitterRng = streams(cfg.Seed, w.Name)
	if cfg.Log != nil && cfg.Log.Enabled(context.Background(), slog.LevelInfo) {
		e.log = cfg.Log.With("workload", w.Name, "policy", cfg.PolicyName)
	}
	e.workerShapes = cl.packShapes()
	if m := cfg.Memory; m != nil {
		e.latency = slices.Clone(m.Latency)
		e.waited = slices.Clone(m.Cancelled)
		e.taskAvg = m.TaskDuration
		e.durs.Seed(m.Durations)
		e.recent = slices.Clone(m.Recent)
		e.t0 = max(0, m.Clock)
		e.now = e.t0
		e.progressAt = e.t0
	}
	e.timer, _ = cfg.Policy.(IdleTimer)
	_, e.blind = cfg.Policy.(lookaheadFree)
	e.sp.add(ebb.Resources{ebb.CPU: 1})
	e.sp.add(cl.Primary)
	for _, s := range cl.Shapes {
		e.sp.add(s)
	}
	// Shapes, interned by their exact text.
	n := len(w.Tasks)
	e.tasks = make([]task, n)
	e.runningSet = make([]uint64, (n+63)/64)
	e.startedAt = make([]time.Duration, n)
	e.kindOf = make([]int32, n)
	byKey := map[string]*tshape{}
	kindIndex := map[string]int32{}
	for i, t := range w.Tasks {
		name := t.Kind
		if name == "" {
			// As the runner names a task's kind when none is given:
			// from the stem of its name ("t000042" → "t").
			name = (&ebb.Task{Name: t.ID}).KindName()
		}
		kind, ok := kindIndex[name]
		if !ok {
			kind = int32(len(e.kinds))
			kindIndex[name] = kind
			e.kinds = append(e.kinds, &simKind{name: name})
		}
		k := t.Resources.Format()
		s, ok := byKey[k]
		if !ok {
			e.sp.add(t.Resources)
			s = &tshape{res: t.Resources.Clone()}
			byKey[k] = s
			e.shapes = append(e.shapes, s)
		}
		e.tasks[i] = task{run: t.Run, arrival: t.Arrival, dur: t.Duration, shape: s}
		e.kindOf[i] = kind
	}
	for _, s := range e.shapes {
		s.vec = e.sp.vec(s.res)
		s.size = s.res.Size()
		s.cpu = s.res[ebb.CPU]
	}
	slices.SortStableFunc(e.shapes, func(a, b *tshape) int {
		if c := cmp.Compare(b.size, a.size); c != 0 {
			return c
		}
		return cmp.Compare(a.res.String(), b.res.String())
	})
	for r, s := range e.shapes {
		s.rank = r
		if !s.res.Fits(cl.Primary) && !slices.ContainsFunc(cl.Shapes, s.res.Fits) {
			i := slices.IndexFunc(e.tasks, func(t task) bool { return t.shape == s })
			return nil, fmt.Errorf("sim: workload %s: task %q: resources %s: fit neither the primary (%s) nor any worker shape: %w",
				w.Name, w.Tasks[i].ID, s.res, cl.Primary, ebb.ErrInvalid)
		}
	}
	// The graph, as arrays.
	e.depStart = make([]int32, n+1)
	e.waiting = make([]int32, n)
	e.deps = make([]int32, n)
	e.lineage = make([]stealer.Lineage, n)
	var sizes stealer.Sizes
	var fit stealer.SizeFit
	if m := cfg.Memory; m != nil {
		sizes, fit = m.Sizes, m.SizeFit
	}
	e.sizes = stealer.NewTaskSizes(n, func(i int) string { return w.Tasks[i].ID }, sizes, fit)
	for i, t := range w.Tasks {
		e.waiting[i] = int32(len(t.Deps)) + 1
		e.deps[i] = int32(len(t.Deps))
		for _, d := range t.Deps {
			e.depStart[d+1]++
		}
	}
	for i := range n {
		e.depStart[i+1] += e.depStart[i]
	}
	e.dependents = make([]int32, e.depStart[n])
	fill := slices.Clone(e.depStart[:n])
	for i, t := range w.Tasks {
		for _, d := range t.Deps {
			e.dependents[fill[d]] = int32(i)
			fill[d]++
		}
	}
	e.order = order
	e.taskRank, e.ranksTimed = e.ranks(order)
	e.reweigh = rankq.NewReweigh(n)
	e.byArrival = make([]int32, n)
	for i := range e.byArrival {
		e.byArrival[i] = int32(i)
	}
	slices.SortStableFunc(e.byArrival, func(a, b int32) int {
		if c := cmp.Compare(e.tasks[a].run, e.tasks[b].run); c != 0 {
			return c
		}
		return cmp.Compare(e.tasks[a].arrival, e.tasks[b].arrival)
	})
	runs := 1
	for _, t := range e.tasks {
		runs = max(runs, t.run+1)
	}
	e.runStart = make([]time.Duration, runs)
	e.runLeft = make([]int, runs)
	for k := range e.runStart {
		e.runStart[k] = -1
	}
	e.runStart[0] = e.t0
	for _, t := range e.tasks {
		e.runLeft[t.run]++
	}
	e.nextRun()
	e.remaining = n
	e.waits = make([]float64, 0, n)

	e.free = newFreeIndex(e.sp)
	e.primary = e.newAlloc(cl.Primary, false)
	e.primary.id = "primary"
	e.free.insert(e.primary)
	return e, nil
}

// run is the event loop. Each step takes the next moment anything is due,
// applies everything due then (arrivals, then events in the order they
// were pushed), places ready tasks, and asks the policy for a plan when a
// tick, a grant, a failure, a release, the end of a backoff, or new
// demand calls for it, at most once per moment.
func (e *engine) run(ctx context.Context) error {
	e.q.push(e.t0, evTick, 0)
	for steps := 0; e.remaining > 0; steps++ {
		if steps&0xffff == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if e.cfg.Progress != nil && steps > 0 {
				e.cfg.Progress(Progress{Now: e.now - e.t0, Done: len(e.tasks) - e.remaining, Tasks: len(e.tasks)})
			}
		}
		t := e.q.peek().at // a tick is always due while tasks remain
		if at, ok := e.nextArrival(); ok {
			t = min(t, at)
		}
		e.now = t
		wake, tick := false, false
		for at, ok := e.nextArrival(); ok && at == t; at, ok = e.nextArrival() {
			e.arrive(e.byArrival[e.nextArr])
			e.nextArr++
		}
		for e.q.len() > 0 && e.q.peek().at == t {
			ev := e.q.pop()
			switch ev.kind {
			case evFinish:
				if e.finish(ev.ref) {
					wake = true
				}
			case evLaunch:
				if e.launchDone(ev.ref) {
					wake = true
				}
			case evTick:
				tick, wake = true, true
				e.q.push(t+e.cl.Tick, evTick, 0)
				if len(e.waitSince) > 0 && e.waitOver() {
					e.placeDirty = true
				}
			case evWake:
				wake = true
			}
		}
		e.place()
		switch {
		case e.readyN == 0:
			e.demanded = false
		case !e.demanded:
			e.demanded, wake = true, true
		}
		if e.remaining == 0 {
			break
		}
		if wake {
			e.evaluate()
		}
		if tick && e.cfg.Timeline {
			e.sample()
		}
		if _, due := e.nextArrival(); e.running == 0 && !due && t-e.progressAt >= e.cl.StallTimeout {
			e.stalled = fmt.Sprintf("stalled at %v: %d tasks left, none running, none placed for %v", t-e.t0, e.remaining, e.cl.StallTimeout)
			break
		}
	}
	e.end()
	if e.cfg.Timeline {
		e.sample()
	}
	if m := e.cfg.Memory; m != nil {
		m.Latency = slices.Clone(e.latency)
		m.Cancelled = slices.Clone(e.waited)
		m.TaskDuration = e.taskAvg
		m.Durations = e.durs.Profile()
		m.Sizes = e.sizes.Sizes(&e.durs,
			func(i int) string { return e.cfg.Workload.Tasks[i].ID },
			func(i int) string { return e.kinds[e.kindOf[i]].name }, m.Sizes)
		m.SizeFit = e.sizes.Fit()
		m.Recent = slices.Clone(e.recent)
		m.Clock = e.now
	}
	return nil
}

func (e *engine) sample() {
	e.timeline = append(e.timeline, Sample{
		At: e.now - e.t0, Held: e.sp.cpuOf(e.primary.res) + e.heldCPU, Booting: e.bootingCPU,
		Busy: e.busyCPU, Waiting: e.waitingCPU,
	})
}

// nextArrival returns when the next task arrives, if that is known: a
// task of a run that has not started yet has no arrival time.
func (e *engine) nextArrival() (time.Duration, bool) {
	if e.nextArr == len(e.byArrival) {
		return 0, false
	}
	t := &e.tasks[e.byArrival[e.nextArr]]
	start := e.runStart[t.run]
	if start < 0 {
		return 0, false
	}
	return start + t.arrival, true
}

// nextRun moves curRun past the runs that have ended (or hold no task),
// and starts the run after the last of them RunGap later.
func (e *engine) nextRun() {
	moved := false
	for e.curRun < len(e.runLeft)-1 && e.runLeft[e.curRun] == 0 {
		e.curRun++
		moved = true
	}
	if moved && e.runStart[e.curRun] < 0 {
		e.runStart[e.curRun] = e.now + e.cfg.Workload.RunGap
	}
}

// end gives everything back once the run is over, as a Stealer does when
// its evaluation is done: held allocs are released, requests cancelled.
func (e *engine) end() {
	for len(e.pending) > 0 {
		e.cancel(e.pending[len(e.pending)-1])
	}
	for len(e.held) > 0 {
		e.release(e.held[len(e.held)-1])
	}
}
