package local

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

// An exec is one task in an alloc: a command run as a process group, or a
// func run in a goroutine. Its goroutine (run) alone writes res, and
// publishes it by setting over and closing done. Of the other fields,
// some never change after Put, removing and a lazy done are guarded by
// the alloc's mutex, removed and over are atomic, and ctx, the tails and
// proc lock themselves.
//
// A func without files, the exec of a flow of small Go funcs, keeps all
// it needs in this one record, kept within 512 bytes (see
// TestExecSize): what only a command or an exec with files needs is in
// files.
type exec struct {
	id    pool.ExecID
	a     *alloc
	fn    ebb.Func   // cfg.Func; nil for a command
	files *execFiles // nil for a func without inputs or outputs; read-only pointer
	held  []amount   // cfg.Resources, in a slice: cheaper to copy than a map; read-only
	// heldBuf holds held when it is short, as it mostly is: no
	// allocation of its own.
	heldBuf [2]amount

	ctx killCtx // done when the exec is killed

	// done is closed when the exec has ended and res is final. Made by
	// newExec, unless lazyDone is set (an exec run by Call, which
	// mostly nobody else waits for): it is then made by the first
	// doneChan, under a.mu.
	done     chan struct{}
	lazyDone bool        // never changes after newExec
	over     atomic.Bool // set by finish, before done is closed: res is final
	res      pool.Result // res.Start set by newExec; the rest written by run only, before over is set

	removing bool        // Remove is at work; guarded by a.mu
	removed  atomic.Bool // Remove is over: the exec answers ErrNotExist
	// shared is set once a reference to the exec has left the alloc's
	// table (Exec, Execs, a Put of its ID, the alloc's end): such an
	// exec is never reused (see Call). Guarded by a.mu.
	shared bool

	// stdout and stderr keep what the exec writes, unless it is a command
	// whose streams go to log files.
	stdout, stderr tail

	proc *procState // a command's, in files; nil for a func
}

// execFiles is what an exec has besides a func without files: a
// command, or a func with inputs or outputs.
type execFiles struct {
	argv, env []string                 // copies of cfg's; read-only
	inputs    map[string]digest.Digest // a copy of cfg's; read-only
	outputs   []string                 // a copy of cfg's; read-only
	dir       string                   // the directory of a command's log files; "" without Config.KeepLogs, and for a func
	work      *workDir                 // the work directory, if any; written by run only, before done is closed
	// ready is closed once a command's log files exist, or never will;
	// nil when the exec has none.
	ready chan struct{}
	proc  procState // a command's
}

var _ pool.Exec = (*exec)(nil)

// newExec makes an exec of cfg; call says it is run by Call (see
// exec.done), and then the exec may be a record an earlier Call left
// for reuse.
func newExec(ctx context.Context, a *alloc, id pool.ExecID, cfg pool.ExecConfig, call bool) *exec {
	var e *exec
	if call {
		e = a.reused()
	}
	if e == nil {
		e = new(exec)
	}
	*e = exec{
		id:       id,
		a:        a,
		fn:       cfg.Func,
		ctx:      killCtx{parent: ctx, call: call},
		lazyDone: call,
	}
	e.res.Start = time.Now()
	if !call {
		e.done = make(chan struct{})
	}
	e.held = heldOf(e.heldBuf[:0], cfg.Resources)
	if cfg.Func == nil || len(cfg.Inputs) > 0 || len(cfg.Outputs) > 0 {
		e.files = &execFiles{
			argv:    slices.Clone(cfg.Argv),
			env:     slices.Clone(cfg.Env),
			inputs:  maps.Clone(cfg.Inputs),
			outputs: slices.Clone(cfg.Outputs),
		}
	}
	if cfg.Func == nil {
		e.proc = &e.files.proc
	}
	if cfg.Func == nil && a.p.cfg.KeepLogs {
		e.files.dir = filepath.Join(a.dir, execsName, id.Encoded())
		e.files.ready = make(chan struct{})
	} else {
		e.stdout.max = a.p.cfg.TailBytes
		e.stderr.max = a.p.cfg.TailBytes
	}
	return e
}

// needWork reports whether the exec runs in a work directory: a command
// always, a func when it has inputs or outputs.
func (e *exec) needWork() bool {
	return e.files != nil
}

// logDir returns the directory of a command's log files; "" without
// Config.KeepLogs, and for a func.
func (e *exec) logDir() string {
	if e.files == nil {
		return ""
	}
	return e.files.dir
}

// An amount is one kind of resource an exec holds.
type amount struct {
	kind string
	n    float64
}

// heldOf appends r to buf as amounts, and returns nil when r is empty.
func heldOf(buf []amount, r ebb.Resources) []amount {
	if len(r) == 0 {
		return nil
	}
	for k, n := range r {
		buf = append(buf, amount{k, n})
	}
	return buf
}

// resources returns what the exec holds in fresh memory, nil when
// nothing, without its zero amounts when dropZero is set.
func (e *exec) resources(dropZero bool) ebb.Resources {
	if len(e.held) == 0 {
		return nil
	}
	r := make(ebb.Resources, len(e.held))
	for _, h := range e.held {
		if h.n != 0 || !dropZero {
			r[h.kind] = h.n
		}
	}
	return r
}

// run runs the exec to its end and publishes its result. It is the exec's
// goroutine.
func (e *exec) run() {
	defer e.finish()
	if e.fn != nil {
		e.runFunc()
	} else {
		e.runProc()
		e.proc.endWatch()
	}
}

// finish publishes e.res: the exec's resources go back to its alloc, then
// waiters wake.
func (e *exec) finish() {
	if e.res.End.IsZero() {
		e.res.End = time.Now()
	}
	a := e.a
	a.mu.Lock()
	e.endLocked()
	a.mu.Unlock()
}

// endLocked gives the exec's resources back to its alloc and wakes its
// waiters. e.a.mu is held.
func (e *exec) endLocked() {
	a := e.a
	a.running--
	if a.running == 0 {
		clear(a.busy) // no rounding left over
	} else {
		for _, h := range e.held {
			a.busy[h.kind] -= h.n
		}
	}
	e.over.Store(true)
	if e.done != nil {
		close(e.done)
	}
}

// doneChan returns the channel closed when the exec has ended, made
// now if the exec makes it lazily.
func (e *exec) doneChan() <-chan struct{} {
	if !e.lazyDone {
		return e.done
	}
	a := e.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if e.done == nil {
		e.done = make(chan struct{})
		if e.over.Load() {
			close(e.done)
		}
	}
	return e.done
}

// kill stops the exec if it is still running, without waiting. It may be
// called any number of times.
func (e *exec) kill() {
	e.ctx.cancel()
	if e.fn == nil {
		e.proc.kill()
	}
}

// ID returns the exec's ID.
func (e *exec) ID() pool.ExecID { return e.id }

// Wait blocks until the exec has ended and returns its result, in fresh
// memory the caller owns. It fails with ctx's error when ctx ends first,
// with ebb.ErrExpired once the alloc's end has begun (whether or not the
// exec had ended), and with ebb.ErrNotExist after Remove.
func (e *exec) Wait(ctx context.Context) (pool.Result, error) {
	if !e.over.Load() {
		select {
		case <-e.doneChan():
		case <-e.a.endc:
		case <-ctx.Done():
			return pool.Result{}, ctx.Err()
		}
	}
	if err := e.check(); err != nil {
		return pool.Result{}, err
	}
	return e.result(), nil
}

// check fails once the exec's alloc is ending or the exec was removed.
func (e *exec) check() error {
	if e.a.state.Load() != live {
		return e.a.expired()
	}
	if e.removed.Load() {
		return fmt.Errorf("local: alloc %s: exec %s: %w", e.a.id, e.id, ebb.ErrNotExist)
	}
	return nil
}

// result returns a copy of the result of an exec that has ended.
func (e *exec) result() pool.Result {
	r := e.res
	r.Outputs = maps.Clone(r.Outputs)
	r.StageIn, r.StageOut = slices.Clone(r.StageIn), slices.Clone(r.StageOut)
	r.Resources = e.resources(false)
	return r
}

// Inspect returns the exec's state without blocking, in fresh memory.
func (e *exec) Inspect(ctx context.Context) (pool.ExecInspect, error) {
	if err := ctx.Err(); err != nil {
		return pool.ExecInspect{}, err
	}
	if err := e.check(); err != nil {
		return pool.ExecInspect{}, err
	}
	in := pool.ExecInspect{
		ID:        e.id,
		State:     pool.ExecRunning,
		Resources: e.resources(true),
		Start:     e.res.Start,
	}
	if e.files != nil {
		in.Argv = slices.Clone(e.files.argv)
	}
	if e.over.Load() {
		r := e.result()
		in.State, in.Result = pool.ExecDone, &r
	}
	return in, nil
}

// Kill stops the exec: a command's whole process group (and cgroup, if it
// has one) gets SIGKILL, a func's context is cancelled. It does not wait;
// Wait does, and its Result says Killed. Killing an exec that has ended does nothing.
func (e *exec) Kill(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := e.check(); err != nil {
		return err
	}
	e.kill()
	return nil
}

// ended reports whether the exec has ended.
func (e *exec) ended() bool { return e.over.Load() }

// failed records that the exec could not run: err, or a kill that
// interrupted its setup.
func (e *exec) failed(err error) {
	if e.ctx.Err() != nil {
		killedResult(&e.res)
		return
	}
	e.res.ExitCode, e.res.Error = -1, err.Error()
}

// outputs stores the outputs of an exec that succeeded and returns their
// digests, or records in e.res why it could not.
func (e *exec) outputs(work string) map[string]digest.Digest {
	out, err := e.storeOutputs(&e.ctx, work)
	switch {
	case err == nil:
		return out
	case e.ctx.Err() != nil:
		killedResult(&e.res)
	default:
		e.res.Error = err.Error()
	}
	return nil
}

// killedResult sets r to say the exec was killed.
func killedResult(r *pool.Result) {
	r.ExitCode, r.Killed, r.Error = -1, true, "killed"
}
