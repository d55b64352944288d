package local

import (
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/ebbflow/ebb"
)

// runFunc runs a func exec in the exec's goroutine and fills e.res. A func
// without inputs or outputs touches no file and makes no system call: its
// streams are bounded tails in memory, its context lives inside the exec.
//
// A func that panics fails with the panic in Error and its stack at the
// end of stderr; the pool goes on. One that calls runtime.Goexit (as
// t.FailNow does) fails as well.
func (e *exec) runFunc() {
	// r.Start was set by newExec.
	r := &e.res
	r.ExitCode, r.Error = -1, "func exited by runtime.Goexit" // unless it returns
	var work string
	if e.needWork() {
		var err error
		if work, err = e.makeWork(&e.ctx); err != nil {
			e.failed(err)
			return
		}
	}
	err := e.callFunc(work)
	// The start's clock reading and the time since: half the cost of
	// time.Now, which reads the wall clock too.
	r.End = r.Start.Add(time.Since(r.Start))
	r.Stdout, r.Stderr = e.stdout.String(), e.stderr.String()
	switch {
	case e.ctx.Err() != nil:
		killedResult(r)
	case err != nil:
		r.ExitCode, r.Error = 1, err.Error()
		r.Transient = errors.Is(err, ebb.ErrUnavailable)
	default:
		r.ExitCode, r.Error = 0, ""
		r.Outputs = e.outputs(work)
	}
}

// callFunc calls the exec's func, turning a panic into an error.
func (e *exec) callFunc(work string) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("func panicked: %v", v)
			fmt.Fprintf(&e.stderr, "panic: %v\n\n%s", v, debug.Stack())
		}
	}()
	return e.fn(&e.ctx, ebb.FuncEnv{Dir: work, Stdout: &e.stdout, Stderr: &e.stderr})
}
