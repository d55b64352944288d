package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

// A worker is one alloc taking part through Work. Its fields are guarded
// by the Eval's mutex.
type worker struct {
	alloc     pool.Alloc
	free      ebb.Resources // what the alloc has not lent to a task
	whole     ebb.Resources // what the alloc holds
	running   int
	idleSince time.Time // when running last fell to 0
	draining  bool      // takes no new task; Work returns once idle
	assigned  []int32   // tasks placed here, not yet started; counted in running
	made      []int32   // tasks that succeeded here, with outputs (see evacuate)
	left      bool      // Work is returning: its goroutines take no task from assigned
	stop      context.CancelCauseFunc
	// primary: the run's primary alloc, whose pool reads the run's
	// repository itself (see lostInputs).
	primary bool
}

var (
	errFinished = errors.New("eval finished")
	errDrained  = errors.New("alloc drained")
)

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
	return e.work(ctx, a, false, nil)
}

// work is Work; primary says a is the run's primary alloc, and it calls
// joined, when not nil, once a counts among the eval's allocs (Load and
// Demand see it) and before it takes a task.
func (e *Eval) work(ctx context.Context, a pool.Alloc, primary bool, joined func()) error {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	whole := a.Resources()
	w := &worker{alloc: a, free: whole.Clone(), whole: whole, stop: stop, idleSince: time.Now(), primary: primary}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := pool.Keepalive(ctx, a, e.cfg.Keepalive); err != nil && ctx.Err() == nil {
			stop(fmt.Errorf("alloc %s lost: %w", a.ID(), err))
		}
	})

	e.mu.Lock()
	if e.err == nil && e.remaining > 0 {
		e.workers = append(e.workers, w)
		e.attachLocked(w)
	}
	e.mu.Unlock()
	if joined != nil {
		joined()
	}

	// Tasks run on goroutines that each take the next task when done
	// with one: a goroutine per task running at once on a, not per task
	// of the flow. idle counts those waiting on todo, less the tasks sent
	// to them and not yet taken; only this loop sends, and closes todo
	// when it ends, so every task sent is run.
	// A goroutine that finishes a task takes the next one placed on a
	// itself, when there is one (see finish): in a steady stream of
	// short tasks this loop sleeps, and a task costs no wake of it.
	todo := make(chan int32, max(1, e.cfg.MaxExecs))
	var idle atomic.Int32
	runner := func(t int32) {
		// A func run on this goroutine (see caller) that calls
		// runtime.Goexit ends it: its task is then recorded here.
		cur, busy := t, true
		defer func() {
			if busy {
				e.goexited(ctx, w, cur)
			}
		}()
		for ok := true; ok; t, ok = <-todo {
			for next := true; next; {
				cur, busy = t, true
				t, next = e.run(ctx, w, t)
			}
			busy = false
			idle.Add(1)
		}
	}
	var batch []int32
	evacuated := false
	for {
		e.mu.Lock()
		if e.remaining == 0 || e.err != nil {
			e.mu.Unlock()
			stop(errFinished)
			break
		}
		if w.draining && w.running == 0 {
			e.mu.Unlock()
			if !evacuated {
				// Drained: nothing new comes, so this runs once.
				e.evacuate(ctx, w)
				evacuated = true
				continue
			}
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
			if n := idle.Load(); n > 0 && idle.CompareAndSwap(n, n-1) {
				select {
				case todo <- t:
					continue
				default:
				}
			}
			wg.Go(func() { runner(t) })
		}
		select {
		case <-wake:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(todo)
	// Leave: tasks placed here but not started go back to the queue.
	e.mu.Lock()
	w.left = true
	e.workers = slices.DeleteFunc(e.workers, func(x *worker) bool { return x == w })
	for _, t := range w.assigned {
		e.release(w, t)
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

// attachLocked assigns to w the tasks pinned to its alloc: their execs
// are there already, and run re-attaches to them. e.mu is held.
func (e *Eval) attachLocked(w *worker) {
	id := w.alloc.ID()
	ts := e.pinned[id]
	if len(ts) == 0 {
		return
	}
	delete(e.pinned, id)
	now := time.Now()
	for _, t := range ts {
		e.tasks[t].state = running
		e.started(t, w, now)
		subInPlace(w.free, e.g.Flow.Tasks[t].Resources)
		w.assigned = append(w.assigned, t)
	}
	w.running += len(ts)
	e.counts.Running += len(ts)
	e.cfg.Logger.Info("re-attaching tasks to their execs", "alloc", id, "tasks", len(ts))
}

// Detach lets the tasks pinned to the alloc named id (see
// EvalConfig.Attached) run anywhere: the alloc will not Work, and its
// execs are gone. Detaching an alloc that holds no pinned task does
// nothing.
func (e *Eval) Detach(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ts := e.pinned[id]
	delete(e.pinned, id)
	for _, t := range ts {
		e.tasks[t].state = ready
		e.ready.push(e.shapes[t], t)
		e.emitQueued(t)
	}
	if len(ts) > 0 {
		e.broadcast()
	}
}

// run runs task t on w's alloc and records how it went. It returns the
// next task placed on w for the calling goroutine to run, if there is one
// (see finish).
func (e *Eval) run(ctx context.Context, w *worker, t int32) (next int32, ok bool) {
	task := &e.g.Flow.Tasks[t]
	id := e.digests[t]
	in := e.inputs(t)
	if gone, pending := e.lostInputs(ctx, t, in, w.primary); len(gone)+len(pending) > 0 {
		e.recompute(w, t, gone, pending)
		return 0, false
	}
	cfg := pool.ExecConfig{
		Argv:      task.Argv,
		Env:       task.Env,
		Func:      task.Func,
		Resources: task.Resources,
		Inputs:    in,
		Outputs:   task.Outputs,
	}
	tctx, span := e.cfg.Runs.StartTask(ctx, task.Name, id, task.Resources, w.alloc.ID())
	var (
		x        pool.Exec
		res      pool.Result
		timedOut bool
		err      error
	)
	c, called := w.alloc.(caller)
	if called = called && e.callable(task, in); called {
		res, err = c.Call(tctx, id, cfg)
	} else if x, err = w.alloc.Put(tctx, id, cfg); err == nil {
		e.emitStarted(t, w.alloc)
		res, timedOut, err = waitFor(tctx, x, task.Timeout)
	}
	span.End(res, err)
	if err != nil {
		e.interrupted(ctx, w, t, x, err)
		return 0, false
	}
	if res.OK() {
		if err := e.collect(ctx, t, res); err != nil {
			e.interrupted(ctx, w, t, x, err)
			return 0, false
		}
	}
	if res.OK() && e.cfg.Cache != nil {
		// Stored even when ctx is done: a finished result is never lost.
		if err := e.cfg.Cache.Put(context.WithoutCancel(ctx), id, res); err != nil {
			e.cfg.Logger.Warn("cache put failed; the task will run again in a later run", "task", task.Name, "err", err)
		}
	}
	if !called { // Call removed it
		if err := w.alloc.Remove(ctx, id); err != nil && ctx.Err() == nil {
			e.cfg.Logger.Debug("remove exec", "task", task.Name, "err", err)
		}
	}
	return e.finish(ctx, w, t, res, timedOut)
}

// A caller is an alloc that runs an in-process exec to its end on the
// calling goroutine and removes it, as the local pool's allocs do: Put,
// Wait and Remove in one call, without the exec's goroutine and its
// wake-ups. Unlike Wait it returns only once the exec has ended, and
// its Result's Resources may be cfg.Resources itself (the task's, which
// the runner never changes), not a copy.
type caller interface {
	Call(ctx context.Context, id pool.ExecID, cfg pool.ExecConfig) (pool.Result, error)
}

// callable reports whether task, with inputs in, runs through a
// caller's Call: a func without inputs or outputs, without a timeout
// (which Call does not watch), in an eval that publishes no events (Call
// gives no moment for Started).
func (e *Eval) callable(task *ebb.Task, in map[string]digest.Digest) bool {
	return task.Func != nil && len(task.Argv) == 0 && len(task.Env) == 0 && len(in) == 0 && len(task.Outputs) == 0 &&
		task.Timeout <= 0 && e.cfg.Events == nil
}

// inputs returns the digest of each of task t's input files. The outputs of
// t's dependencies were recorded before t became ready, but change when a
// dependency runs again (see recompute), so they are read under e.mu.
func (e *Eval) inputs(t int32) map[string]digest.Digest {
	task := &e.g.Flow.Tasks[t]
	if len(task.Inputs) == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	in := make(map[string]digest.Digest, len(task.Inputs))
	for _, i := range task.Inputs {
		switch {
		case i.Task != "":
			j, _ := e.g.Index(i.Task)
			in[i.Name] = e.tasks[j].outputs[i.Output]
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
	e.release(w, t)
	if e.err != nil || e.remaining == 0 {
		return
	}
	if ctx.Err() == nil && !lost && !ebb.Retryable(err) {
		// The alloc refused the task: a bug or a malformed task, which
		// another try would not mend.
		e.fail(fmt.Errorf("task %q: %w", e.g.Flow.Tasks[t].Name, err))
		return
	}
	e.emitLost(w, t, err)
	e.counts.Lost++
	e.requeue(t)
}

// finish records the result of task t, run on w; timedOut says it was
// killed past its Timeout. When t succeeded it places ready tasks as the
// work loops would, and returns one placed on w for the calling goroutine
// to run next, in the same hold of e.mu: the work loops are woken only
// for what is left.
func (e *Eval) finish(ctx context.Context, w *worker, t int32, res pool.Result, timedOut bool) (next int32, ok bool) {
	task := &e.g.Flow.Tasks[t]
	now := time.Now() // read before the lock, which it then holds for less
	e.mu.Lock()
	defer e.mu.Unlock()
	e.release(w, t)
	st := &e.tasks[t]
	if e.err != nil {
		return
	}
	if timedOut {
		e.emitEnded(EventTimedOut, w, t, res)
	}
	switch {
	case res.OK():
		e.emitEnded(EventFinished, w, t, res)
		st.state = done
		st.outputs = res.Outputs
		if len(res.Outputs) > 0 && !w.primary {
			w.made = append(w.made, t)
		}
		e.counts.Done++
		expected := e.learned(t, res.Duration())
		if d := res.Duration(); e.duration == 0 {
			e.duration = d
		} else {
			e.duration += (d - e.duration) / 8
		}
		e.remaining--
		if parked, again := e.redo[t]; again {
			e.unpark(t, parked) // its dependents counted it done the first time
		} else {
			for _, c := range e.dependents.of(t) {
				e.lineage[c] = e.lineage[c].Pass(e.lineage[t], res.Duration(), expected, len(e.g.Deps(c)))
				if e.waiting[c]--; e.waiting[c] == 0 && e.tasks[c].state == waiting {
					e.tasks[c].state = ready
					e.ready.push(e.shapes[c], c)
					e.emitQueued(c)
				}
			}
		}
		if e.remaining == 0 {
			close(e.doneC)
			e.broadcast()
			return 0, false
		}
		placed := e.placeLocked(now)
		if len(w.assigned) > 0 && !w.left && ctx.Err() == nil {
			// The first placed, as the work loop would start it.
			next, ok = w.assigned[0], true
			w.assigned = w.assigned[:copy(w.assigned, w.assigned[1:])]
			placed--
		}
		if placed > 0 {
			e.broadcast()
		} else {
			e.reportLocked()
		}
		return next, ok
	case res.Transient && int(st.tries)+1 < max(1, task.Attempts):
		st.tries++
		e.emitEnded(EventRetried, w, t, res)
		e.counts.Retried++
		e.cfg.Logger.Info("task failed; trying again", "task", task.Name, "try", st.tries, "error", res.Error)
		e.requeue(t)
	default:
		st.state = failed
		e.emitEnded(EventFinished, w, t, res)
		terr := &TaskError{Task: task.Name, Digest: e.digests[t], Result: res}
		if timedOut {
			terr.Timeout = task.Timeout
		}
		e.fail(terr)
	}
	return 0, false
}

// goexited records task t, run on w, as failed: its func called
// runtime.Goexit on the goroutine that ran it, which ends with it.
func (e *Eval) goexited(ctx context.Context, w *worker, t int32) {
	res := pool.Result{ExitCode: -1, Error: "func exited by runtime.Goexit"}
	if next, ok := e.finish(ctx, w, t, res, false); ok {
		e.mu.Lock()
		e.release(w, next)
		if e.err == nil && e.remaining > 0 {
			e.requeue(next)
		}
		e.mu.Unlock()
	}
}

// release gives back to w what its task t held. e.mu is held.
func (e *Eval) release(w *worker, t int32) {
	e.stopped(t)
	e.reportStopped(t)
	w.running--
	e.counts.Running--
	e.shapes[t].give(w.free)
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
	for _, w := range e.workers {
		w.stop(errFinished)
	}
	e.broadcast()
}

// broadcast wakes the workers waiting for news. e.mu is held.
func (e *Eval) broadcast() {
	e.reportLocked()
	if e.woken {
		close(e.wake)
		e.wake = make(chan struct{})
		e.woken = false
	}
}
