package runner

import (
	"context"
	"errors"
	"time"

	"github.com/ebbflow/ebb/pool"
)

// waitFor waits for exec x as x.Wait does, for at most timeout when it is
// positive (a task's Timeout). Past it, waitFor kills x, waits for it to
// end, and returns its result marked as a transient failure, with
// timedOut set; the task is then tried again while its attempts remain.
// An exec that finished as the timeout fell keeps its result. The timeout
// counts from the call: a task re-attached after a resume gets it whole
// again.
func waitFor(ctx context.Context, x pool.Exec, timeout time.Duration) (res pool.Result, timedOut bool, err error) {
	if timeout <= 0 {
		res, err = x.Wait(ctx)
		return res, false, err
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err = x.Wait(wctx)
	if err == nil || ctx.Err() != nil || !errors.Is(wctx.Err(), context.DeadlineExceeded) {
		return res, false, err
	}
	if err := x.Kill(ctx); err != nil {
		return pool.Result{}, false, err
	}
	if res, err = x.Wait(ctx); err != nil || res.OK() {
		return res, false, err
	}
	res.Transient = true
	res.Error = "killed after its timeout of " + timeout.String()
	res.Outputs = nil
	return res, true, nil
}
