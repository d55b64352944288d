package runner

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/rankq"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository"
	"github.com/ebbflow/ebb/stealer"
	"github.com/ebbflow/ebb/tracing"
	"github.com/grailbio/base/status"
	"github.com/opencontainers/go-digest"
)

// EvalConfig configures an Eval. Only Cache and Repository do I/O of their
// own; both may be nil.
type EvalConfig struct {
	// Cache, when set, is looked up before anything runs, and every
	// successful task's result is stored in it under the task's digest.
	Cache repository.Cache
	// Repository holds the blobs of the flow's files. A cache entry
	// counts only while every output it names is still here.
	Repository repository.Store
	// Paths gives the digest of each local file named by an Input.Path,
	// already stored in Repository (see Flow.Paths).
	Paths map[string]digest.Digest
	// MaxExecs caps how many tasks run at once on one alloc, whatever
	// their resources (tasks that hold nothing would otherwise be
	// unbounded). Default 256.
	MaxExecs int
	// Keepalive configures the lease renewals of the allocs that Work.
	Keepalive pool.KeepaliveConfig
	// Logger receives a record per task failure and lost alloc, and,
	// at DEBUG, one when a long task waits for a slot on the primary
	// rather than keep an auxiliary alloc alive alone. Default: discard.
	Logger *slog.Logger
	// Runs, when set, records a span per task run and a mark per task
	// found in the cache.
	Runs *tracing.Runs
	// History, when set, is what earlier runs learned of the durations
	// of the flow's kinds of task: the eval starts from it (see
	// Eval.History).
	History stealer.Profile
	// Sizes, when set, is how long each task ran against its kind in an
	// earlier run of the flow, by task name (see stealer.Sizes): a task
	// is expected to run its kind's estimate times its size (see
	// Eval.Sizes).
	Sizes stealer.Sizes
	// SizeFit, when set, is how much of its sizes showed in the run
	// that kept them (see stealer.SizeFit): how far the eval trusts
	// Sizes starts from it (see Eval.SizeFit).
	SizeFit stealer.SizeFit
	// TaskDuration, when set, is how long tasks took lately in an
	// earlier run of the flow (its Eval.TaskDuration): the eval's
	// TaskDuration starts from it, not from zero.
	TaskDuration time.Duration
	// OnDemand, when set, is called whenever ready tasks are left that no
	// working alloc can place, after there were none: the moment to look
	// at Demand (a stealer's Wake). It is called with the Eval's lock
	// held, so it must not block or call back into the Eval.
	OnDemand func()
	// Events, when set, receives an event at each point of a task's life
	// (see EventKind); publishing never blocks the eval.
	Events *EventBus
	// Status, when set, shows the eval's progress: its status is the
	// Progress (as Progress.String), kept current, and each task placed
	// on an alloc is a task of the group until its try ends.
	Status *status.Group
	// Attached names, by task digest, the alloc (by ID) where the task's
	// exec was found when the run was resumed. Such a task, once ready,
	// waits for that alloc to Work and runs there first, where Put
	// re-attaches to its exec (running or finished) instead of starting
	// it again: a task running when its driver died finishes once.
	// Should the alloc never Work, Detach lets its tasks run elsewhere.
	Attached map[digest.Digest]string
}

// An Eval is the evaluation of one flow: which tasks are done (run or found
// in the cache), which are ready, which wait for others. Allocs take part
// by calling Work, which takes ready tasks that fit the alloc, runs them
// there, and records their results; Demand says what the ready tasks need
// beyond what the working allocs can hold.
//
// An Eval keeps no goroutine of its own: all its work happens inside Work
// calls. Its state is guarded by one mutex, never held across I/O, so
// Demand and Progress can be called from any goroutine at any time without
// blocking for long. It holds a few words per task and places work in time
// that grows with the number of distinct task shapes, not of tasks.
type Eval struct {
	g          *ebb.Graph
	digests    []digest.Digest
	cfg        EvalConfig
	dependents dependents
	shapes     []*shape // per task
	kindOf     []int32  // per task: its index in kinds

	mu      sync.Mutex // guards the fields below
	tasks   []taskState
	waiting []int32 // per task: dependencies not yet done
	// lineage is, per task, what the tasks it waits on took against
	// their kinds' estimates (see stealer.Lineage), as they finished in
	// this process: a resumed run starts with none (Scale 1).
	lineage []stealer.Lineage
	// sizes is, per task, its size from EvalConfig.Sizes, and what it
	// took in this process (see stealer.TaskSizes).
	sizes stealer.TaskSizes
	ready readyQueue
	// ranksTimed is set when ready.rank weighed every kind by a known
	// duration as the run started (see ranks): a hint, or the History.
	ranksTimed bool
	// kindRun is each kind's weight in ready.rank, in seconds: how long
	// a task of it is expected to run (see ranks).
	kindRun []float64
	// waitSince holds when each ready task that waits for the primary
	// began to (see longTasks); a task leaves it when it starts.
	waitSince map[int32]time.Time
	reweigh   rankq.Reweigh // when ranks are computed again (see learned)
	workers   []*worker     // in the order they came
	remaining int           // tasks still to finish
	counts    Progress
	duration  time.Duration // moving average of finished tasks' run time
	kinds     []*kind
	// scratchWs and scratchBins are place's, reused from call to call.
	scratchWs   []*worker
	scratchBins []bin
	durations   stealer.Durations // by kind
	err         error
	doneC       chan struct{}          // closed when every task is done or one failed
	wake        chan struct{}          // closed (and replaced) when there is news for workers
	woken       bool                   // wake has a reader
	demanded    bool                   // OnDemand was called for the current backlog
	running     map[int32]*status.Task // the status tasks of the tasks placed (with Status)

	// redo maps a task running again, its outputs lost with their
	// worker, to the tasks parked until it is done (see recompute.go).
	redo map[int32][]int32
	// pinned holds, by alloc ID, the ready tasks that wait for that
	// alloc to Work (EvalConfig.Attached); they count as waiting.
	pinned map[string][]int32
}

type taskState struct {
	state   taskPhase
	tries   uint16
	pos     int32 // while running: its place in its kind's running tasks
	outputs map[string]digest.Digest
}

type taskPhase uint8

const (
	unneeded taskPhase = iota // only feeds tasks found in the cache
	waiting
	ready
	running
	done
	cached
	failed
)

// Progress counts a flow's tasks by where they are.
type Progress struct {
	Tasks   int // in the flow
	Done    int // succeeded in this eval
	Cached  int // found in the cache, not run
	Skipped int // needed by no task left to run
	Running int
	Ready   int
	Waiting int // for other tasks
	Retried int // tries that failed and were tried again
	Lost    int // tries lost with their alloc, and requeued
}

// TaskError reports a task that failed for good. Its Result holds the exit
// code and the tail of the task's standard error.
type TaskError struct {
	Task   string
	Digest digest.Digest
	Result pool.Result
	// Timeout is set when the task's last try ran past its
	// ebb.Task.Timeout, this long, and was killed; the error then wraps
	// ebb.ErrTimeout.
	Timeout time.Duration
}

func (e *TaskError) Error() string {
	msg := fmt.Sprintf("task %q failed: exit code %d", e.Task, e.Result.ExitCode)
	if e.Timeout > 0 {
		msg = fmt.Sprintf("task %q timed out: killed after its timeout of %v", e.Task, e.Timeout)
	} else if e.Result.Error != "" {
		msg += ": " + e.Result.Error
	}
	if e.Result.Stderr != "" {
		msg += "\nstderr:\n" + e.Result.Stderr
	}
	return msg
}

// Unwrap returns ebb.ErrTimeout when the task timed out, nil otherwise.
func (e *TaskError) Unwrap() error {
	if e.Timeout > 0 {
		return ebb.ErrTimeout
	}
	return nil
}

// NewEval prepares the evaluation of the validated flow g whose task
// digests are digests (see Graph.Digests). It looks tasks up in the cache
// from the flow's sinks down, so that a task found there is not run and
// the tasks that only feed it are not run either.
func NewEval(ctx context.Context, g *ebb.Graph, digests []digest.Digest, cfg EvalConfig) (*Eval, error) {
	n := len(g.Flow.Tasks)
	if len(digests) != n {
		return nil, fmt.Errorf("eval: %d digests for %d tasks: %w", len(digests), n, ebb.ErrInvalid)
	}
	if cfg.MaxExecs <= 0 {
		cfg.MaxExecs = 256
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Eval{
		g: g, digests: digests, cfg: cfg,
		shapes:  make([]*shape, n),
		tasks:   make([]taskState, n),
		waiting: make([]int32, n),
		lineage: make([]stealer.Lineage, n),
		pinned:  map[string][]int32{},
		doneC:   make(chan struct{}),
		wake:    make(chan struct{}),
	}
	e.counts.Tasks = n
	e.kindOf, e.kinds = kindsOf(g.Flow.Tasks)
	e.durations.Seed(cfg.History)
	e.sizes = stealer.NewTaskSizes(n, func(i int) string { return g.Flow.Tasks[i].Name }, cfg.Sizes, cfg.SizeFit)
	e.duration = max(0, cfg.TaskDuration)
	e.ready.kindOf = e.kindOf
	e.ready.sizes = &e.sizes
	e.dependents = dependents{g}
	e.ready.rank, e.ranksTimed = e.ranks()
	e.reweigh = rankq.NewReweigh(n)
	// From the sinks down: a task is needed when it is a sink or feeds a
	// needed task that is not cached.
	needed := make([]bool, n)
	sinks := e.lookupSinks(ctx)
	for k := len(g.Order) - 1; k >= 0; k-- {
		i := g.Order[k]
		if e.dependents.none(i) {
			needed[i] = true
		}
		if !needed[i] {
			continue
		}
		var outputs map[string]digest.Digest
		var ok bool
		if sinks != nil && sinks[i].done {
			outputs, ok = sinks[i].outputs, sinks[i].ok
		} else {
			outputs, ok = e.lookup(ctx, i)
		}
		if ok {
			e.tasks[i] = taskState{state: cached, outputs: outputs}
			e.counts.Cached++
			cfg.Runs.Cached(ctx, g.Flow.Tasks[i].Name, digests[i])
			e.emitCached(i)
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e.tasks[i].state = waiting
		for _, d := range g.Deps(i) {
			needed[d] = true
		}
	}
	grow := map[*shape]int{} // how many tasks are ready from the start, by shape
	// Counted by runs of one shape, which tasks listed together tend to
	// be: a map update a run, not a task.
	var run *shape
	runLen := 0
	for _, i := range g.Order {
		st := &e.tasks[i]
		switch st.state {
		case unneeded:
			e.counts.Skipped++
			continue
		case cached:
			continue
		}
		e.remaining++
		for _, d := range g.Deps(i) {
			if e.tasks[d].state != cached {
				e.waiting[i]++
			}
		}
		e.shapes[i] = e.ready.shapeOf(g.Flow.Tasks[i].Resources)
		if id, ok := cfg.Attached[digests[i]]; ok && e.waiting[i] == 0 {
			e.pinned[id] = append(e.pinned[id], i)
			continue
		}
		if e.waiting[i] == 0 {
			st.state = ready
			if e.shapes[i] != run {
				grow[run] += runLen
				run, runLen = e.shapes[i], 0
			}
			runLen++
		}
	}
	grow[run] += runLen
	delete(grow, nil)
	// The ready tasks go into their shapes' queues sized for them, in
	// order.
	for s, n := range grow {
		s.q.Grow(n)
	}
	for _, i := range g.Order {
		if e.tasks[i].state == ready {
			e.ready.push(e.shapes[i], i)
			e.emitQueued(i)
		}
	}
	if e.remaining == 0 {
		close(e.doneC)
	}
	e.reportLocked()
	return e, nil
}

// dependents gives, for every task, the tasks that wait for it (see
// Graph.Dependents).
type dependents struct{ g *ebb.Graph }

// of returns the tasks that wait for task i. The caller must not change it.
func (d dependents) of(i int32) []int32 { return d.g.Dependents(i) }

// none reports whether no task waits for task i (it is a sink).
func (d dependents) none(i int32) bool { return len(d.g.Dependents(i)) == 0 }

// Done returns a channel closed when the eval has finished: every task done,
// or one failed for good.
func (e *Eval) Done() <-chan struct{} { return e.doneC }

// Err returns why the eval failed (a *TaskError, or the error that stopped
// a task from being run), or nil.
func (e *Eval) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// Wait blocks until the eval has finished or ctx is done, and returns Err or
// ctx's error.
func (e *Eval) Wait(ctx context.Context) error {
	select {
	case <-e.doneC:
		return e.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Progress returns the task counts now.
func (e *Eval) Progress() Progress {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.progressLocked()
}

// progressLocked returns the task counts now. e.mu is held.
func (e *Eval) progressLocked() Progress {
	p := e.counts
	p.Ready = e.ready.n
	p.Waiting = p.Tasks - p.Done - p.Cached - p.Skipped - p.Running - p.Ready
	if e.err != nil {
		p.Waiting = 0
	}
	return p
}

// Outputs returns the digests of the outputs of the flow's sinks, as
// "task/output", once the eval has succeeded.
func (e *Eval) Outputs() map[string]digest.Digest {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]digest.Digest{}
	for i := range e.tasks {
		if !e.dependents.none(int32(i)) {
			continue
		}
		for name, d := range e.tasks[i].outputs {
			out[e.g.Flow.Tasks[i].Name+"/"+name] = d
		}
	}
	return out
}

// TaskDuration returns how long tasks have taken to run lately: a moving
// average over the tasks that finished, the last weighing an eighth.
// Before any task has finished it is EvalConfig.TaskDuration, 0 unless
// an earlier run said.
func (e *Eval) TaskDuration() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.duration
}

// tasksOf returns the names of the tasks in the given phase, sorted; for
// tests and messages.
func (e *Eval) tasksOf(p taskPhase) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var names []string
	for i := range e.tasks {
		if e.tasks[i].state == p {
			names = append(names, e.g.Flow.Tasks[i].Name)
		}
	}
	slices.Sort(names)
	return names
}

// markDone sets ran[i] for each task i that succeeded in this eval, and
// returns ran, made when nil.
func (e *Eval) markDone(ran []bool) []bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ran == nil {
		ran = make([]bool, len(e.tasks))
	}
	for i := range e.tasks {
		if e.tasks[i].state == done {
			ran[i] = true
		}
	}
	return ran
}

// creditEarlier returns the task counts now, the tasks that ran (see
// markDone) counted as done rather than cached or skipped: a run retried
// after its primary was lost reports what it ran in all its tries.
func (e *Eval) creditEarlier(ran []bool) Progress {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.progressLocked()
	for i, r := range ran {
		if !r {
			continue
		}
		switch e.tasks[i].state {
		case cached:
			p.Cached--
			p.Done++
		case unneeded:
			p.Skipped--
			p.Done++
		}
	}
	return p
}
