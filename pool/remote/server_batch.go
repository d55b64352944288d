package remote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// checkBatch fails a batch of n items that is empty or bigger than
// maxBatch.
func checkBatch(what string, n int) error {
	if n == 0 || n > maxBatch {
		return fmt.Errorf("%s: %d execs: want 1 to %d: %w", what, n, maxBatch, ebb.ErrInvalid)
	}
	return nil
}

// batch makes the calls of the body, concurrently as separate requests
// would be (a put may stage inputs for long), and answers how each went,
// in order: what its own call would have answered, or its error. A wait
// does not wait: its item has no result while the exec runs. A draining
// server refuses the puts, and serves the rest.
func (s *Server) batch(r *http.Request) (any, error) {
	a, err := s.alloc(r)
	if err != nil {
		return nil, err
	}
	what := "batch in alloc " + a.ID()
	var in opsWire
	if err := readJSON(r.Body, &in); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := checkBatch(what, len(in.Ops)); err != nil {
		return nil, err
	}
	ctx := r.Context()
	out := batchWire{Items: make([]itemWire, len(in.Ops))}
	var wg sync.WaitGroup
	for i, op := range in.Ops[1:] {
		wg.Go(func() { out.Items[1+i] = s.batchOp(ctx, a, op) })
	}
	out.Items[0] = s.batchOp(ctx, a, in.Ops[0])
	wg.Wait()
	s.logItems(r, out.Items)
	return out, nil
}

// logItems logs the items of r's answer that failed on the server's
// side, as fail does a request's.
func (s *Server) logItems(r *http.Request, items []itemWire) {
	for _, it := range items {
		if it.Status >= 500 && r.Context().Err() == nil {
			s.log.Warn("remote: call in a batch failed", "method", r.Method, "path", r.URL.Path, "exec", it.ID, "err", it.Error.Message)
		}
	}
}

// batchOp makes one call of a batch.
func (s *Server) batchOp(ctx context.Context, a pool.Alloc, op opWire) itemWire {
	switch op.Op {
	case opPut:
		what := fmt.Sprintf("put %s in alloc %s", op.ID, a.ID())
		switch {
		case op.Config == nil:
			return errItem("", fmt.Errorf("%s: no config: %w", what, ebb.ErrInvalid))
		case s.Draining():
			return errItem("", errDraining(what))
		}
		e, err := a.Put(ctx, op.ID, *op.Config)
		if err != nil {
			return errItem("", err)
		}
		st, err := e.Inspect(ctx)
		if err != nil {
			return errItem("", err)
		}
		return itemWire{Inspect: &st}
	case opWait:
		e, err := a.Exec(ctx, op.ID)
		if err != nil {
			return errItem("", err)
		}
		item, _ := waitDone(ctx, e)
		item.ID = ""
		return item
	case opRemove:
		if err := a.Remove(ctx, op.ID); err != nil {
			return errItem("", err)
		}
		return itemWire{}
	}
	return errItem("", fmt.Errorf("batch in alloc %s: op %q: want put, wait or remove: %w", a.ID(), op.Op, ebb.ErrInvalid))
}

// waitBatch is a long poll on many execs of one alloc, named by the
// query's id parameters: it answers, with its ID, every exec that is
// done (its result, or the error its own wait would have failed with,
// such as ebb.ErrNotExist for an unknown one). When some are done
// already it answers at once. Otherwise it sends its headers at once,
// with "Ebb-Wait: parked", so that the client knows the poll waits, and
// then waits for any of the execs, as long as the query's timeout (at
// most MaxWait) or until the server shuts down; the body then holds
// those done by then, perhaps none.
func (s *Server) waitBatch(w http.ResponseWriter, r *http.Request) {
	a, err := s.alloc(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	bound, err := s.waitBound(q.Get("timeout"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ids := q["id"]
	if err := checkBatch("wait in alloc "+a.ID(), len(ids)); err != nil {
		s.fail(w, r, err)
		return
	}
	ctx := r.Context()
	var (
		done    []itemWire
		pending []pool.Exec
	)
	for _, id := range unique(ids) {
		id := pool.ExecID(id)
		e, err := a.Exec(ctx, id)
		if err != nil {
			done = append(done, errItem(id, err))
			continue
		}
		if item, ok := waitDone(ctx, e); ok {
			done = append(done, item)
			continue
		}
		pending = append(pending, e)
	}
	if len(done) > 0 {
		s.logItems(r, done)
		writeJSON(w, http.StatusOK, batchWire{Items: done})
		return
	}
	w.Header().Set(headerWait, waitParked)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	http.NewResponseController(w).Flush()
	pctx, cancel := s.pollContext(r, bound)
	defer cancel()
	done = waitAny(ctx, pctx, pending)
	s.logItems(r, done)
	if done == nil {
		done = []itemWire{}
	}
	w.Write(append(mustJSON(batchWire{Items: done}), '\n'))
}

// unique returns ids without the repeats, in order.
func unique(ids []string) []string {
	if len(ids) < 2 {
		return ids
	}
	seen := make(map[string]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// waitDone returns e's wait item if e is done: its Inspect says so, and
// then its Wait, which says how it went, returns at once.
func waitDone(ctx context.Context, e pool.Exec) (itemWire, bool) {
	st, err := e.Inspect(ctx)
	if err != nil || st.State != pool.ExecDone {
		return itemWire{}, false
	}
	res, err := e.Wait(ctx)
	return waitItem(e.ID(), res, err), true
}

func waitItem(id pool.ExecID, res pool.Result, err error) itemWire {
	if err != nil {
		return errItem(id, err)
	}
	return itemWire{ID: id, Result: &res}
}

// waitAny waits on every exec, each in a goroutine, until one is done or
// pctx (the poll's context, within ctx, the request's) ends, and returns
// the items of those done then. Every goroutine it starts has ended when
// it returns.
func waitAny(ctx, pctx context.Context, execs []pool.Exec) []itemWire {
	type outcome struct {
		e   pool.Exec
		res pool.Result
		err error
	}
	wctx, cancel := context.WithCancel(pctx)
	defer cancel()
	outc := make(chan outcome, len(execs))
	var wg sync.WaitGroup
	for _, e := range execs {
		wg.Go(func() {
			res, err := e.Wait(wctx)
			outc <- outcome{e, res, err}
		})
	}
	var got []outcome
	select {
	case o := <-outc:
		got = append(got, o)
	case <-wctx.Done():
	}
	// The others that are done return at once: gather them all.
	cancel()
	wg.Wait()
	close(outc)
	for o := range outc {
		got = append(got, o)
	}
	var out []itemWire
	for _, o := range got {
		if o.err != nil && (errors.Is(o.err, context.Canceled) || errors.Is(o.err, context.DeadlineExceeded)) {
			// Cut short by this poll's end: it may be done all the
			// same.
			if ctx.Err() == nil {
				if item, ok := waitDone(ctx, o.e); ok {
					out = append(out, item)
				}
			}
			continue
		}
		out = append(out, waitItem(o.e.ID(), o.res, o.err))
	}
	return out
}
