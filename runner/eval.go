package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository"
	"github.com/ebbflow/ebb/stealer"
	"github.com/ebbflow/ebb/tracing"
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
	// Logger receives a record per task failure and lost alloc.
	// Default: discard.
	Logger *slog.Logger
	// Runs, when set, records a span per task run and a mark per task
	// found in the cache.
	Runs *tracing.Runs
	// OnDemand, when set, is called whenever ready tasks are left that no
	// working alloc can place, after there were none: the moment to look
	// at Demand (a stealer's Wake). It is called with the Eval's lock
	// held, so it must not block or call back into the Eval.
	OnDemand func()
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
	dependents [][]int32
	shapes     []*shape // per task

	mu        sync.Mutex // guards the fields below
	tasks     []taskState
	waiting   []int32 // per task: dependencies not yet done
	ready     readyQueue
	workers   map[*worker]struct{}
	remaining int // tasks still to finish
	counts    Progress
	duration  time.Duration // moving average of finished tasks' run time
	err       error
	doneC     chan struct{} // closed when every task is done or one failed
	wake      chan struct{} // closed (and replaced) when there is news for workers
	woken     bool          // wake has a reader
	demanded  bool          // OnDemand was called for the current backlog
}

type taskState struct {
	state   taskPhase
	tries   uint16
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

// A worker is one alloc taking part through Work. Its fields are guarded
// by the Eval's mutex.
type worker struct {
	alloc     pool.Alloc
	free      ebb.Resources // what the alloc has not lent to a task
	running   int
	idleSince time.Time // when running last fell to 0
	draining  bool      // takes no new task; Work returns once idle
	assigned  []int32   // tasks placed here, not yet started; counted in running
	stop      context.CancelCauseFunc
}

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
}

func (e *TaskError) Error() string {
	msg := fmt.Sprintf("task %q failed: exit code %d", e.Task, e.Result.ExitCode)
	if e.Result.Error != "" {
		msg += ": " + e.Result.Error
	}
	if e.Result.Stderr != "" {
		msg += "\nstderr:\n" + e.Result.Stderr
	}
	return msg
}

var (
	errFinished = errors.New("eval finished")
	errDrained  = errors.New("alloc drained")
)

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
		dependents: make([][]int32, n),
		shapes:     make([]*shape, n),
		tasks:      make([]taskState, n),
		waiting:    make([]int32, n),
		workers:    map[*worker]struct{}{},
		doneC:      make(chan struct{}),
		wake:       make(chan struct{}),
	}
	e.counts.Tasks = n
	for i, deps := range g.Deps {
		for _, d := range deps {
			e.dependents[d] = append(e.dependents[d], int32(i))
		}
	}
	// From the sinks down: a task is needed when it is a sink or feeds a
	// needed task that is not cached.
	needed := make([]bool, n)
	for k := len(g.Order) - 1; k >= 0; k-- {
		i := g.Order[k]
		if len(e.dependents[i]) == 0 {
			needed[i] = true
		}
		if !needed[i] {
			continue
		}
		if outputs, ok := e.lookup(ctx, i); ok {
			e.tasks[i] = taskState{state: cached, outputs: outputs}
			e.counts.Cached++
			cfg.Runs.Cached(ctx, g.Flow.Tasks[i].Name, digests[i])
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e.tasks[i].state = waiting
		for _, d := range g.Deps[i] {
			needed[d] = true
		}
	}
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
		for _, d := range g.Deps[i] {
			if e.tasks[d].state != cached {
				e.waiting[i]++
			}
		}
		e.shapes[i] = e.ready.shapeOf(g.Flow.Tasks[i].Resources)
		if e.waiting[i] == 0 {
			st.state = ready
			e.ready.push(e.shapes[i], i)
		}
	}
	if e.remaining == 0 {
		close(e.doneC)
	}
	return e, nil
}

// lookup returns the outputs of task i's cached result, if the cache has a
// successful one whose outputs are all still in the repository.
func (e *Eval) lookup(ctx context.Context, i int32) (map[string]digest.Digest, bool) {
	if e.cfg.Cache == nil {
		return nil, false
	}
	res, err := e.cfg.Cache.Get(ctx, e.digests[i])
	if err != nil {
		if !errors.Is(err, ebb.ErrNotExist) {
			e.cfg.Logger.Warn("cache lookup failed; running the task", "task", e.g.Flow.Tasks[i].Name, "err", err)
		}
		return nil, false
	}
	if !res.OK() {
		return nil, false
	}
	for _, name := range e.g.Flow.Tasks[i].Outputs {
		d, ok := res.Outputs[name]
		if !ok || e.cfg.Repository == nil {
			return nil, false
		}
		if _, err := e.cfg.Repository.Stat(ctx, d); err != nil {
			return nil, false
		}
	}
	return res.Outputs, true
}

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
		if len(e.dependents[i]) != 0 {
			continue
		}
		for name, d := range e.tasks[i].outputs {
			out[e.g.Flow.Tasks[i].Name+"/"+name] = d
		}
	}
	return out
}

var (
	_ stealer.Evaluator         = (*Eval)(nil)
	_ stealer.DurationEstimator = (*Eval)(nil)
)

// TaskDuration returns how long tasks have taken to run lately: a moving
// average over the tasks that finished, the last weighing an eighth. It is
// 0 before any task has finished.
func (e *Eval) TaskDuration() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.duration
}

// Demand returns the ready tasks that the allocs now working for the eval
// cannot place, even once their free capacity is used: the work that needs
// more allocs. Shapes come largest first; the result is the caller's.
func (e *Eval) Demand() []ebb.Demand {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ready.n == 0 {
		return nil
	}
	frees := make([]ebb.Resources, 0, len(e.workers))
	for w := range e.workers {
		if !w.draining {
			frees = append(frees, w.free.Clone())
		}
	}
	var out []ebb.Demand
	for _, s := range e.ready.shapes {
		n := s.len()
		for _, f := range frees {
			if n == 0 {
				break
			}
			if k := fitCount(s.res, f, n); k > 0 {
				n -= k
				subInPlace(f, s.res.Scale(float64(k)))
			}
		}
		if n > 0 {
			out = append(out, ebb.Demand{Resources: s.res.Clone(), Count: n})
		}
	}
	return out
}

// Work runs ready tasks on alloc a until the eval finishes, ctx is done, or
// the alloc is lost, keeping the alloc's lease alive meanwhile. It takes
// the largest ready tasks that fit in what a has free, up to MaxExecs at a
// time, and more as they finish.
//
// It returns nil when the eval has finished (see Err for how), ctx's error
// when ctx is done, and an error wrapping ebb.ErrExpired when the alloc was
// lost. Tasks that were running on a and did not finish go back to the
// ready queue (without counting a try), to run on another alloc; the execs
// themselves are left alone, so that a driver resuming the run re-attaches
// to them. When the eval fails, Work kills the tasks still running on a.
// Work returns only once every goroutine it started has ended.
func (e *Eval) Work(ctx context.Context, a pool.Alloc) error {
	return e.work(ctx, a, nil)
}

// work is Work; it calls joined, when not nil, once a counts among the
// eval's allocs (Load and Demand see it) and before it takes a task.
func (e *Eval) work(ctx context.Context, a pool.Alloc, joined func()) error {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	w := &worker{alloc: a, free: a.Resources().Clone(), stop: stop, idleSince: time.Now()}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := pool.Keepalive(ctx, a, e.cfg.Keepalive); err != nil && ctx.Err() == nil {
			stop(fmt.Errorf("alloc %s lost: %w", a.ID(), err))
		}
	})

	e.mu.Lock()
	if e.err == nil && e.remaining > 0 {
		e.workers[w] = struct{}{}
	}
	e.mu.Unlock()
	if joined != nil {
		joined()
	}

	var batch []int32
	for {
		e.mu.Lock()
		if e.remaining == 0 || e.err != nil {
			e.mu.Unlock()
			stop(errFinished)
			break
		}
		if w.draining && w.running == 0 {
			e.mu.Unlock()
			stop(errDrained)
			break
		}
		e.place()
		batch = append(batch[:0], w.assigned...)
		w.assigned = w.assigned[:0]
		wake := e.wake
		e.woken = true
		e.mu.Unlock()
		for _, t := range batch {
			wg.Go(func() { e.run(ctx, w, t) })
		}
		select {
		case <-wake:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	// Leave: tasks placed here but not started go back to the queue.
	e.mu.Lock()
	delete(e.workers, w)
	for _, t := range w.assigned {
		e.release(w, e.g.Flow.Tasks[t].Resources)
		if e.err == nil && e.remaining > 0 {
			e.requeue(t)
		}
	}
	w.assigned = nil
	e.mu.Unlock()
	wg.Wait()
	if cause := context.Cause(ctx); !errors.Is(cause, errFinished) && !errors.Is(cause, errDrained) {
		return cause
	}
	return nil
}

// place assigns ready tasks to the workers that can hold them: the largest
// shapes first, each to the worker with the least free capacity that holds
// it (best fit), as many at once as fit there, so that big allocs stay
// free for big tasks and small allocs fill up and the rest go idle. A
// worker starts the tasks assigned to it when it next wakes. e.mu is held.
func (e *Eval) place() {
	if e.ready.n == 0 {
		return
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
	placed := false
	for _, s := range e.ready.shapes {
		for s.len() > 0 {
			var (
				best     *worker
				bestSize float64
			)
			for w := range e.workers {
				if w.draining || w.running >= e.cfg.MaxExecs || !s.res.Fits(w.free) {
					continue
				}
				if size := w.free.Size(); best == nil || size < bestSize {
					best, bestSize = w, size
				}
			}
			if best == nil {
				break
			}
			n := max(1, min(s.len(), fitCount(s.res, best.free, e.cfg.MaxExecs-best.running)))
			if best.running == 0 {
				best.idleSince = time.Time{}
			}
			for range n {
				t := e.ready.pop(s)
				e.tasks[t].state = running
				best.assigned = append(best.assigned, t)
				subInPlace(best.free, s.res)
			}
			best.running += n
			e.counts.Running += n
			placed = true
		}
	}
	if placed {
		e.broadcast()
	}
}

// Drain tells the alloc with the given ID to take no new task: its Work
// returns nil once the tasks it runs have finished, so that the alloc can
// be freed without killing any. It reports whether such an alloc works for
// the eval.
func (e *Eval) Drain(allocID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for w := range e.workers {
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
func (e *Eval) Load() []stealer.AllocLoad {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]stealer.AllocLoad, 0, len(e.workers))
	for w := range e.workers {
		out = append(out, stealer.AllocLoad{
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

// run runs task t on w's alloc and records how it went.
func (e *Eval) run(ctx context.Context, w *worker, t int32) {
	task := &e.g.Flow.Tasks[t]
	id := e.digests[t]
	cfg := pool.ExecConfig{
		Argv:      task.Argv,
		Env:       task.Env,
		Func:      task.Func,
		Resources: task.Resources,
		Inputs:    e.inputs(t),
		Outputs:   task.Outputs,
	}
	tctx, span := e.cfg.Runs.StartTask(ctx, task.Name, id, task.Resources, w.alloc.ID())
	x, err := w.alloc.Put(tctx, id, cfg)
	var res pool.Result
	if err == nil {
		res, err = x.Wait(tctx)
	}
	span.End(res, err)
	if err != nil {
		e.interrupted(ctx, w, t, x, err)
		return
	}
	if res.OK() && e.cfg.Cache != nil {
		// Stored even when ctx is done: a finished result is never lost.
		if err := e.cfg.Cache.Put(context.WithoutCancel(ctx), id, res); err != nil {
			e.cfg.Logger.Warn("cache put failed; the task will run again in a later run", "task", task.Name, "err", err)
		}
	}
	if err := w.alloc.Remove(ctx, id); err != nil && ctx.Err() == nil {
		e.cfg.Logger.Debug("remove exec", "task", task.Name, "err", err)
	}
	e.finish(w, t, res)
}

// inputs returns the digest of each of task t's input files. The outputs of
// t's dependencies were recorded before t became ready and never change
// after, so reading them needs no lock.
func (e *Eval) inputs(t int32) map[string]digest.Digest {
	task := &e.g.Flow.Tasks[t]
	if len(task.Inputs) == 0 {
		return nil
	}
	in := make(map[string]digest.Digest, len(task.Inputs))
	for _, i := range task.Inputs {
		switch {
		case i.Task != "":
			in[i.Name] = e.tasks[e.g.Index[i.Task]].outputs[i.Output]
		case i.Digest != "":
			in[i.Name] = i.Digest
		default:
			in[i.Name] = e.cfg.Paths[i.Path]
		}
	}
	return in
}

// interrupted handles a task whose exec could not be started or waited for.
func (e *Eval) interrupted(ctx context.Context, w *worker, t int32, x pool.Exec, err error) {
	cause := context.Cause(ctx)
	if errors.Is(cause, errFinished) && x != nil {
		// The eval failed: the task's result is of no use.
		if kerr := x.Kill(context.WithoutCancel(ctx)); kerr != nil {
			e.cfg.Logger.Debug("kill exec", "task", e.g.Flow.Tasks[t].Name, "err", kerr)
		}
	}
	lost := errors.Is(err, ebb.ErrExpired) || errors.Is(err, ebb.ErrNotExist)
	switch {
	case lost:
		w.stop(fmt.Errorf("alloc %s lost: %w", w.alloc.ID(), ebb.ErrExpired))
	case ctx.Err() == nil && ebb.Retryable(err):
		// The alloc did not answer. Placing more work there would only
		// fail the same way, over and over: stop working it, and let
		// its holder decide (the runner retries on the primary, a
		// stealer gives an auxiliary alloc back).
		w.stop(fmt.Errorf("alloc %s: %w", w.alloc.ID(), err))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.release(w, e.g.Flow.Tasks[t].Resources)
	if e.err != nil || e.remaining == 0 {
		return
	}
	if ctx.Err() == nil && !lost && !ebb.Retryable(err) {
		// The alloc refused the task: a bug or a malformed task, which
		// another try would not mend.
		e.fail(fmt.Errorf("task %q: %w", e.g.Flow.Tasks[t].Name, err))
		return
	}
	e.counts.Lost++
	e.requeue(t)
}

// finish records the result of task t, run on w.
func (e *Eval) finish(w *worker, t int32, res pool.Result) {
	task := &e.g.Flow.Tasks[t]
	e.mu.Lock()
	defer e.mu.Unlock()
	e.release(w, task.Resources)
	st := &e.tasks[t]
	if e.err != nil {
		return
	}
	switch {
	case res.OK():
		st.state = done
		st.outputs = res.Outputs
		e.counts.Done++
		if d := res.Duration(); e.duration == 0 {
			e.duration = d
		} else {
			e.duration += (d - e.duration) / 8
		}
		e.remaining--
		for _, c := range e.dependents[t] {
			if e.waiting[c]--; e.waiting[c] == 0 && e.tasks[c].state == waiting {
				e.tasks[c].state = ready
				e.ready.push(e.shapes[c], c)
			}
		}
		if e.remaining == 0 {
			close(e.doneC)
		}
		e.broadcast()
	case res.Transient && int(st.tries)+1 < max(1, task.Attempts):
		st.tries++
		e.counts.Retried++
		e.cfg.Logger.Info("task failed; trying again", "task", task.Name, "try", st.tries, "error", res.Error)
		e.requeue(t)
	default:
		st.state = failed
		e.fail(&TaskError{Task: task.Name, Digest: e.digests[t], Result: res})
	}
}

// release gives back to w what one of its tasks held. e.mu is held.
func (e *Eval) release(w *worker, res ebb.Resources) {
	w.running--
	e.counts.Running--
	addInPlace(w.free, res)
	if w.running == 0 {
		w.idleSince = time.Now()
		if w.draining {
			e.broadcast()
		}
	}
}

// requeue puts task t back in the ready queue. e.mu is held.
func (e *Eval) requeue(t int32) {
	e.tasks[t].state = ready
	e.ready.push(e.shapes[t], t)
	e.broadcast()
}

// fail ends the eval with err and stops every worker, which kill their
// running tasks. e.mu is held.
func (e *Eval) fail(err error) {
	e.err = err
	e.cfg.Logger.Error("eval failed", "err", err)
	close(e.doneC)
	for w := range e.workers {
		w.stop(errFinished)
	}
	e.broadcast()
}

// broadcast wakes the workers waiting for news. e.mu is held.
func (e *Eval) broadcast() {
	if e.woken {
		close(e.wake)
		e.wake = make(chan struct{})
		e.woken = false
	}
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
