package pooltest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// tailSize bounds Result.Stdout and Result.Stderr.
const tailSize = 4 << 10

// exec is a memory pool's exec: a goroutine running a Func or the pool's
// Run hook. Its mutable fields are guarded by a.p.mu.
type exec struct {
	a      *alloc
	id     pool.ExecID
	seq    int
	argv   []string
	res    ebb.Resources
	start  time.Time
	cancel context.CancelFunc
	stdout *logBuffer
	stderr *logBuffer
	done   chan struct{} // closed once result is set

	// Guarded by a.p.mu.
	killedBy string       // why the exec was killed; empty unless it was
	lost     error        // set when its alloc ended while it ran
	result   *pool.Result // set when the exec has finished
}

var _ pool.Exec = (*exec)(nil)

// start starts an exec for cfg, which is valid. The caller holds p.mu.
func (a *alloc) start(id pool.ExecID, cfg pool.ExecConfig, seq int) *exec {
	ctx, cancel := context.WithCancel(context.Background())
	e := &exec{
		a:      a,
		id:     id,
		seq:    seq,
		argv:   slices.Clone(cfg.Argv),
		res:    cfg.Resources.Clone(),
		start:  time.Now(),
		cancel: cancel,
		stdout: newLogBuffer(),
		stderr: newLogBuffer(),
		done:   make(chan struct{}),
	}
	cfg.Argv = slices.Clone(cfg.Argv)
	cfg.Env = slices.Clone(cfg.Env)
	cfg.Resources = e.res.Clone()
	cfg.Inputs = maps.Clone(cfg.Inputs)
	cfg.Outputs = slices.Clone(cfg.Outputs)
	go e.run(ctx, cfg, a.p.run)
	return e
}

// run runs the exec and records its result.
func (e *exec) run(ctx context.Context, cfg pool.ExecConfig, hook func(context.Context, pool.ExecConfig, ebb.FuncEnv) pool.Result) {
	defer e.cancel()
	env := ebb.FuncEnv{Stdout: e.stdout, Stderr: e.stderr}
	var r pool.Result
	func() {
		defer func() {
			if v := recover(); v != nil {
				r = pool.Result{ExitCode: 1, Error: fmt.Sprintf("panic: %v\n%s", v, debug.Stack())}
			}
		}()
		if cfg.Func != nil {
			if err := cfg.Func(ctx, env); err != nil {
				r = pool.Result{ExitCode: 1, Error: err.Error(), Transient: errors.Is(err, ebb.ErrUnavailable)}
			}
			return
		}
		r = hook(ctx, cfg, env)
	}()
	if r.OK() {
		for _, name := range cfg.Outputs {
			if _, ok := r.Outputs[name]; !ok {
				r = pool.Result{ExitCode: 1, Error: fmt.Sprintf("output %q missing: the memory pool has no files; only a Run hook can report outputs", name)}
				break
			}
		}
	}
	e.stdout.close()
	e.stderr.close()
	r.Start = e.start
	r.End = time.Now()
	r.Resources = e.res.Clone()
	r.Stdout = e.stdout.tail(tailSize)
	r.Stderr = e.stderr.tail(tailSize)
	if !r.OK() {
		r.Outputs = nil
	}

	a := e.a
	p := a.p
	p.mu.Lock()
	if e.killedBy != "" {
		r.Killed = true
		r.ExitCode = -1
		r.Error = "killed: " + e.killedBy
		r.Outputs = nil
	}
	e.result = &r
	a.busy = a.busy.Sub(e.res)
	a.running--
	if a.running == 0 {
		a.busy = nil // drop the rounding left by Add and Sub
	}
	close(e.done)
	p.mu.Unlock()
}

func (e *exec) ID() pool.ExecID { return e.id }

// Wait returns the exec's result once it has finished, even after its alloc
// has ended; an exec that was running when its alloc ended (Free, Pool.Kill
// or expiry) has no result, and Wait fails with an error wrapping
// ebb.ErrExpired.
func (e *exec) Wait(ctx context.Context) (pool.Result, error) {
	select {
	case <-e.done:
	case <-ctx.Done():
		return pool.Result{}, ctx.Err()
	}
	p := e.a.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.lost != nil {
		return pool.Result{}, e.lost
	}
	return copyResult(*e.result), nil
}

func (e *exec) Inspect(ctx context.Context) (pool.ExecInspect, error) {
	if err := ctx.Err(); err != nil {
		return pool.ExecInspect{}, err
	}
	p := e.a.p
	p.mu.Lock()
	defer p.mu.Unlock()
	in := pool.ExecInspect{
		ID:        e.id,
		State:     pool.ExecRunning,
		Argv:      slices.Clone(e.argv),
		Resources: e.res.Clone(),
		Start:     e.start,
	}
	if e.result != nil {
		in.State = pool.ExecDone
		r := copyResult(*e.result)
		in.Result = &r
	}
	return in, nil
}

func (e *exec) Logs(ctx context.Context, stream pool.Stream, follow bool) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var b *logBuffer
	switch stream {
	case pool.Stdout:
		b = e.stdout
	case pool.Stderr:
		b = e.stderr
	default:
		return nil, fmt.Errorf("pooltest: logs of exec %s: stream %v: %w", e.id, stream, ebb.ErrInvalid)
	}
	return &logReader{ctx: ctx, b: b, follow: follow}, nil
}

// Kill stops the exec and waits until its goroutine has returned.
func (e *exec) Kill(ctx context.Context) error { return e.kill(ctx, "Kill") }

func (e *exec) kill(ctx context.Context, why string) error {
	p := e.a.p
	p.mu.Lock()
	if e.result == nil && e.killedBy == "" {
		e.killedBy = why
	}
	p.mu.Unlock()
	e.cancel()
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func copyResult(r pool.Result) pool.Result {
	r.Outputs = maps.Clone(r.Outputs)
	r.Resources = r.Resources.Clone()
	return r
}

// logBuffer holds everything an exec wrote to one stream.
type logBuffer struct {
	mu      sync.Mutex
	buf     []byte
	closed  bool
	changed chan struct{} // closed and replaced at every write and at close
}

func newLogBuffer() *logBuffer { return &logBuffer{changed: make(chan struct{})} }

// Write appends to the buffer; writes after the exec finished are dropped.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return len(p), nil
	}
	b.buf = append(b.buf, p...)
	close(b.changed)
	b.changed = make(chan struct{})
	return len(p), nil
}

func (b *logBuffer) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.changed)
	}
}

func (b *logBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf[max(0, len(b.buf)-n):])
}

// logReader reads a logBuffer from the start. Following, it waits for more
// until the buffer is closed; ctx bounds that wait, as a request's context
// bounds the reads of its body.
type logReader struct {
	ctx    context.Context
	b      *logBuffer
	off    int
	follow bool
}

func (r *logReader) Read(p []byte) (int, error) {
	for {
		r.b.mu.Lock()
		if r.off < len(r.b.buf) {
			n := copy(p, r.b.buf[r.off:])
			r.off += n
			r.b.mu.Unlock()
			return n, nil
		}
		if !r.follow || r.b.closed {
			r.b.mu.Unlock()
			return 0, io.EOF
		}
		changed := r.b.changed
		r.b.mu.Unlock()
		select {
		case <-changed:
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		}
	}
}

func (r *logReader) Close() error { return nil }
