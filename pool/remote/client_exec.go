package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// An exec is a handle on a remote exec.
type exec struct {
	a  *alloc
	id pool.ExecID
}

var _ pool.Exec = (*exec)(nil)

func (e *exec) ID() pool.ExecID { return e.id }

func (e *exec) call(op, method, suffix string) *request {
	return &request{
		op:     fmt.Sprintf("%s exec %s in alloc %s", op, e.id, e.a.id),
		method: method,
		path:   execPath(e.a.id, e.id) + suffix,
		scope:  scopeAlloc,
	}
}

// Wait polls the server until the exec has finished: each poll waits on
// the server for up to ClientConfig.WaitPoll and is bounded on the client
// by WaitPoll plus Timeout. A server that vanished fails Wait with
// ebb.ErrUnavailable once it has not answered for Timeout; one that froze,
// once a poll went WaitPoll plus Timeout without an answer. A server gone
// for good (ClientConfig.Gone) fails it with ebb.ErrExpired at once. The
// runner treats both as a lost task, to be run again elsewhere.
func (e *exec) Wait(ctx context.Context) (pool.Result, error) {
	if b := e.a.batch; b != nil {
		op := fmt.Sprintf("wait for exec %s in alloc %s", e.id, e.a.id)
		if b.ops.busy() {
			// Ride with the puts and removes in flight: the exec may
			// well be done.
			out, err := b.ops.call(ctx, op, opIn{op: opWait, id: e.id})
			if err != nil || out.done {
				return out.res, err
			}
		}
		return b.waits.call(ctx, op, e.id)
	}
	for {
		var w waitWire
		req := e.call("wait for", "GET", "/wait")
		req.query, req.out, req.poll = e.a.c.waitQuery, &w, e.a.c.cfg.WaitPoll
		if err := e.a.c.do(ctx, req); err != nil {
			return pool.Result{}, err
		}
		switch {
		case w.Done && w.Result != nil:
			return *w.Result, nil
		case w.Done:
			return pool.Result{}, &callError{op: req.op, kinds: []error{ebb.ErrInvalid}, msg: "malformed answer: done without a result"}
		}
	}
}

// Inspect returns the exec's state.
func (e *exec) Inspect(ctx context.Context) (pool.ExecInspect, error) {
	var in pool.ExecInspect
	req := e.call("inspect", "GET", "")
	req.out = &in
	err := e.a.c.do(ctx, req)
	return in, err
}

// Kill kills the exec on the server.
func (e *exec) Kill(ctx context.Context) error {
	return e.a.c.do(ctx, e.call("kill", "POST", "/kill"))
}

// Logs streams one of the exec's streams from the server. Its headers
// come within Timeout; the stream itself lasts until the exec ends (with
// follow), ctx is done, or the reader is closed. An error the server met
// after the stream began comes out of Read at its end, in place of
// io.EOF.
func (e *exec) Logs(ctx context.Context, stream pool.Stream, follow bool) (io.ReadCloser, error) {
	if stream != pool.Stdout && stream != pool.Stderr {
		return nil, fmt.Errorf("remote: logs of exec %s: stream %v: %w", e.id, stream, ebb.ErrInvalid)
	}
	req := e.call("logs of", "GET", "/logs")
	req.query = url.Values{"stream": {stream.String()}}
	if follow {
		req.query.Set("follow", "true")
	}
	req.stream = true
	if err := e.a.c.do(ctx, req); err != nil {
		return nil, err
	}
	return &streamReader{op: req.op, resp: req.resp, cancel: req.cancel}, nil
}

// A streamReader reads the body of a stream, and at its end reports the
// error in the Ebb-Error trailer, if any. A body cut short is
// ebb.ErrUnavailable.
type streamReader struct {
	op     string
	resp   *http.Response
	cancel context.CancelFunc
	err    error // sticky, once the body ended
}

func (r *streamReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.resp.Body.Read(p)
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		r.err = io.EOF
		if t := r.resp.Trailer.Get(trailerError); t != "" {
			var w wireError
			if json.Unmarshal([]byte(t), &w) != nil {
				w.Message = t
			}
			r.err = decodeError(r.op, http.StatusOK, w)
		}
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		r.err = fmt.Errorf("remote: %s: %w", r.op, err)
	default:
		r.err = &callError{op: r.op, kinds: []error{ebb.ErrUnavailable}, msg: "stream cut short: " + err.Error(), cause: err}
	}
	if r.err != nil && n > 0 {
		return n, nil
	}
	return n, r.err
}

// Close ends the stream.
func (r *streamReader) Close() error {
	err := r.resp.Body.Close()
	r.cancel()
	return err
}
