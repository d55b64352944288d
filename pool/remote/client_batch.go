package remote

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// allocBatch holds an alloc handle's batchers, when the client batches
// (see the package doc): one for its puts, removes and the waits that
// ride with them, one for its wait long polls.
type allocBatch struct {
	ops   batcher[opIn, opOut]
	waits batcher[pool.ExecID, pool.Result]
}

// opIn is one call of a batch, checked.
type opIn struct {
	op  string // opPut, opWait or opRemove
	id  pool.ExecID
	cfg pool.ExecConfig // for a put
}

// opOut is what a call of a batch answers: for a wait, whether the exec
// was done, and then its result.
type opOut struct {
	done bool
	res  pool.Result
}

// newAlloc returns a handle on the alloc id, which batches its calls
// when the client does.
func (c *Client) newAlloc(id string, res ebb.Resources) *alloc {
	a := &alloc{c: c, id: id, res: res}
	if c.batch {
		a.batch = &allocBatch{}
		a.batch.ops = batcher[opIn, opOut]{send: a.sendOps, hold: c.cfg.BatchHold, max: maxClientBatch}
		a.batch.waits = batcher[pool.ExecID, pool.Result]{send: a.sendWaits, hold: c.cfg.BatchHold, max: maxWaitIDs}
	}
	return a
}

// sendOps makes the calls of rs (at most maxClientBatch): a put or a
// remove alone as a call of its own, and otherwise as many as fit in
// maxBatchBody bytes in one batch request; the rest ride the next batch.
func (a *alloc) sendOps(ctx context.Context, rs []*rider[opIn, opOut], _ func()) []*rider[opIn, opOut] {
	if len(rs) == 1 && rs[0].in.op != opWait {
		a.sendOne(ctx, rs[0])
		return nil
	}
	body := []byte(`{"ops":[`)
	n := 0
	for _, r := range rs {
		w := opWire{Op: r.in.op, ID: r.in.id}
		if r.in.op == opPut {
			w.Config = &r.in.cfg
		}
		item := mustJSON(w)
		if n > 0 && len(body)+len(item)+3 > maxBatchBody {
			break
		}
		if n > 0 {
			body = append(body, ',')
		}
		body = append(body, item...)
		n++
	}
	body = append(body, "]}"...)
	batch, carry := rs[:n], rs[n:]
	if n == 1 && batch[0].in.op != opWait {
		a.sendOne(ctx, batch[0])
		return carry
	}
	var out batchWire
	req := &request{
		op: fmt.Sprintf("batch of %d in alloc %s", n, a.id), method: "POST", path: batchPath(a.id, "batch"),
		inJSON: body, out: &out, scope: scopeAlloc,
	}
	err := a.c.do(ctx, req)
	if err == nil && len(out.Items) != n {
		err = malformed(req.op, fmt.Sprintf("%d items for %d ops", len(out.Items), n))
	}
	for i, r := range batch {
		if err != nil {
			r.resolve(opOut{}, reop(err, r.op))
			continue
		}
		it := out.Items[i]
		ierr := it.err(r.op)
		switch {
		case ierr != nil && r.in.op == opRemove && req.retried() && errors.Is(ierr, ebb.ErrNotExist):
			r.resolve(opOut{}, nil) // an attempt whose answer was lost removed it
		case ierr != nil:
			r.resolve(opOut{}, ierr)
		case r.in.op == opWait && it.Result != nil:
			r.resolve(opOut{done: true, res: *it.Result}, nil)
		default:
			r.resolve(opOut{}, nil)
		}
	}
	return carry
}

// sendOne makes the put or remove r in a call of its own.
func (a *alloc) sendOne(ctx context.Context, r *rider[opIn, opOut]) {
	var err error
	switch r.in.op {
	case opPut:
		err = a.putOne(ctx, r.op, r.in.id, r.in.cfg)
	case opRemove:
		err = a.removeOne(ctx, r.op, r.in.id)
	}
	r.resolve(opOut{}, err)
}

// sendWaits polls the server once for the execs of rs (at most
// maxWaitIDs), each ID once: the riders of those done are answered, the
// others ride the next poll. A poll the server parks (none was done)
// releases the next batch at once.
func (a *alloc) sendWaits(ctx context.Context, rs []*rider[pool.ExecID, pool.Result], release func()) []*rider[pool.ExecID, pool.Result] {
	var carry []*rider[pool.ExecID, pool.Result]
	ids := []pool.ExecID{rs[0].in}
	op := rs[0].op
	if len(rs) > 1 {
		ids = nil
		seen := make(map[pool.ExecID]bool, len(rs))
		for _, r := range rs {
			if !seen[r.in] {
				seen[r.in] = true
				ids = append(ids, r.in)
			}
		}
		if len(ids) > 1 {
			op = fmt.Sprintf("wait for %d execs in alloc %s", len(ids), a.id)
		}
	}
	batch := rs
	q := url.Values{"timeout": a.c.waitQuery["timeout"], "id": make([]string, len(ids))}
	for i, id := range ids {
		q["id"][i] = string(id)
	}
	var out batchWire
	req := &request{
		op: op, method: "GET", path: batchPath(a.id, "wait"), query: q,
		out: &out, poll: a.c.cfg.WaitPoll, scope: scopeAlloc,
		answered: func(h http.Header) {
			if h.Get(headerWait) == waitParked {
				release()
			}
		},
	}
	if err := a.c.do(ctx, req); err != nil {
		for _, r := range batch {
			r.resolve(pool.Result{}, reop(err, r.op))
		}
		return carry
	}
	var index map[pool.ExecID]int // for many items
	if len(out.Items) > 8 {
		index = make(map[pool.ExecID]int, len(out.Items))
		for i, it := range out.Items {
			index[it.ID] = i
		}
	}
	var given []bool // for riders on one exec, when there are
	if len(batch) > len(ids) {
		given = make([]bool, len(out.Items))
	}
	for _, r := range batch {
		i, ok := index[r.in]
		if index == nil {
			i = slices.IndexFunc(out.Items, func(it itemWire) bool { return it.ID == r.in })
			ok = i >= 0
		}
		if !ok {
			carry = append(carry, r)
			continue
		}
		switch it := out.Items[i]; {
		case it.Error != nil:
			r.resolve(pool.Result{}, it.err(r.op))
		case it.Result != nil:
			// Riders waiting on one exec each get a result of their own.
			res := *it.Result
			if given != nil {
				if given[i] {
					res.Outputs, res.Resources = maps.Clone(res.Outputs), res.Resources.Clone()
				}
				given[i] = true
			}
			r.resolve(res, nil)
		default:
			r.resolve(pool.Result{}, malformed(r.op, "done without a result"))
		}
	}
	return carry
}

// err returns the error an item of a batch answer carries for op, or
// nil.
func (it itemWire) err(op string) error {
	if it.Error == nil {
		return nil
	}
	return decodeError(op, it.Status, *it.Error)
}

// malformed is the error of an answer that does not say what it should.
func malformed(op, what string) error {
	return &callError{op: op, kinds: []error{ebb.ErrInvalid}, msg: "malformed answer: " + what}
}

// reop returns the error of a batch request as the error of one of its
// calls, named op.
func reop(err error, op string) error {
	ce, ok := err.(*callError)
	if !ok {
		return err
	}
	c := *ce
	c.op = op
	return &c
}
