package local

import (
	"context"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// Call runs an exec to its end and removes it: Put, Wait and Remove in
// one call. An exec that Put would run in memory (a Func without Argv,
// Env, inputs or outputs) runs on the calling goroutine, without a
// goroutine, a wake-up or a lookup of its own: the path of a flow of
// small Go funcs. Any other exec, or one already known by id (a resumed
// run re-attaching to it), goes through Put, Wait and Remove.
//
// While its func runs, the exec is known like any other: Exec, Execs and
// Inspect see it, and Kill, Remove and the alloc's end cancel its
// context. Unlike Wait, Call returns only once the func has returned:
// when ctx ends first, the func's context is cancelled too (a func that
// never looks at it runs to its end), and Call then forgets the exec and
// returns ctx's error. A func that calls runtime.Goexit ends the calling
// goroutine as well; its exec ends failed, as under Put, and stays known.
//
// Call reuses the record of an exec it ran for a later Call, so that a
// flow of small funcs allocates nothing a task here: the func's context
// and its FuncEnv's streams are then another exec's. It does so only
// when the func returned, asked for no ctx.Done and wrote nothing to
// its streams, and no reference to the exec left the alloc (Exec,
// Execs, a Put of its ID, Remove or the alloc's end): a Wait, Inspect or
// Kill of an exec someone got hold of always sees that exec. A func
// must not use its context or streams once it has returned (see
// ebb.Func).
//
// Call is not part of pool.Alloc: a caller asks an alloc for it with an
// interface assertion, as the runner does, and keeps Put and Wait for
// allocs without it.
//
// Call fails as Put and Wait do; the Result is the caller's, but for
// its Resources: when Call ran the func, they are cfg.Resources itself
// (nil when empty), what the exec held, shared and not copied as Wait
// would; the caller lent that map and must not change it while it
// keeps the Result. An exec already known gives its Resources in fresh
// memory, as Wait does. That the exec could not be removed afterwards
// (another Remove was at work, the alloc was ending) is not an error:
// the result stands.
func (a *alloc) Call(ctx context.Context, id pool.ExecID, cfg pool.ExecConfig) (pool.Result, error) {
	if cfg.Func == nil || len(cfg.Argv) > 0 || len(cfg.Env) > 0 || len(cfg.Inputs) > 0 || len(cfg.Outputs) > 0 {
		x, err := a.Put(ctx, id, cfg)
		if err != nil {
			return pool.Result{}, err
		}
		return a.waitRemove(ctx, x.(*exec))
	}
	e, known, err := a.put(ctx, id, cfg, true)
	if err != nil {
		return pool.Result{}, err
	}
	if known {
		return a.waitRemove(ctx, e)
	}
	returned := false
	defer func() {
		if !returned {
			e.finish() // runtime.Goexit: publish the exec's end as run does
		}
	}()
	e.runFunc()
	returned = true
	e.ctx.unwatch()
	if err := ctx.Err(); err != nil {
		e.finish()
		a.forget(e, false)
		return pool.Result{}, err
	}
	return a.endCall(e, cfg.Resources, e.quiet())
}

// endCall ends an exec whose func Call ran and returned, and forgets it
// (see forget; reuse says the func left no trace), in one hold of the
// alloc's lock: it publishes the exec's end as finish does, and returns
// its result as Call does, or the error of exec.check, the exec then
// left where it is.
func (a *alloc) endCall(e *exec, res ebb.Resources, reuse bool) (pool.Result, error) {
	if e.res.End.IsZero() {
		e.res.End = time.Now()
	}
	a.mu.Lock()
	e.endLocked()
	if a.state.Load() != live || e.removed.Load() {
		a.mu.Unlock()
		return pool.Result{}, e.check()
	}
	r := e.res // a func without files: nothing in it to copy
	if len(res) > 0 {
		r.Resources = res
	}
	removed := a.forgetLocked(e, reuse)
	a.mu.Unlock()
	if removed {
		e.removed.Store(true)
	}
	return r, nil
}

// quiet reports whether the func of an exec run by Call left no trace
// that it may still use its context or streams: it never asked for
// ctx.Done (a goroutine of its may be waiting on it) and wrote nothing.
func (e *exec) quiet() bool {
	e.ctx.mu.Lock()
	quiet := e.ctx.done == nil && e.ctx.err == nil
	e.ctx.mu.Unlock()
	return quiet && !e.stdout.written() && !e.stderr.written()
}

// waitRemove waits for x and then removes it.
func (a *alloc) waitRemove(ctx context.Context, x *exec) (pool.Result, error) {
	r, err := x.Wait(ctx)
	if err != nil {
		return pool.Result{}, err
	}
	_ = a.Remove(ctx, x.id) // the result stands
	return r, nil
}

// forget removes an ended exec that has no file from the alloc's
// table, unless a Remove of it is at work. With reuse set (see Call)
// the record goes on the alloc's free list for the next Call, unless a
// reference to it ever left the table (see exec.shared): nothing but
// its func can then hold it, and the func has returned.
func (a *alloc) forget(e *exec, reuse bool) {
	a.mu.Lock()
	removed := a.forgetLocked(e, reuse)
	a.mu.Unlock()
	if removed {
		e.removed.Store(true)
	}
}

// forgetLocked is forget with a.mu held: it reports whether the exec
// left the table and was not kept for reuse, for the caller to mark it
// removed once a.mu is released.
func (a *alloc) forgetLocked(e *exec, reuse bool) (removed bool) {
	if a.execs[e.id] != e || e.removing {
		return false
	}
	delete(a.execs, e.id)
	if reuse && !e.shared && a.state.Load() == live {
		// What it points to goes now, not when it is reused.
		e.a, e.fn, e.held, e.ctx.parent = nil, nil, nil, nil
		if !a.keepSpare(e) {
			a.free = append(a.free, e)
		}
		return false
	}
	return true
}

// spareExecs is how many records an alloc keeps where a Call takes
// one without its lock (see alloc.spare): about as many as goroutines
// run at once, so that a steady stream of Calls seldom takes the lock
// for a record.
const spareExecs = 8

// keepSpare puts e in an empty spare slot, if there is one. a.mu is
// held.
func (a *alloc) keepSpare(e *exec) bool {
	for i := range a.spare {
		if a.spare[i].Load() == nil && a.spare[i].CompareAndSwap(nil, e) {
			return true
		}
	}
	return false
}

// reused returns an exec record that an earlier Call left for reuse, or
// nil: a spare one if any, taken by a swap (a record is taken by one
// Call only, whoever else looks at its slot), else one from the free
// list.
func (a *alloc) reused() *exec {
	for i := range a.spare {
		if a.spare[i].Load() != nil {
			if e := a.spare[i].Swap(nil); e != nil {
				return e
			}
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	n := len(a.free)
	if n == 0 {
		return nil
	}
	e := a.free[n-1]
	a.free[n-1] = nil
	a.free = a.free[:n-1]
	return e
}
