package remote

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// Capacity returns the remote pool's nodes. Callers own the result.
func (c *Client) Capacity(ctx context.Context) ([]ebb.Resources, error) {
	var info poolWire
	if err := c.do(ctx, &request{op: "capacity", method: "GET", path: prefix + "/pool", out: &info}); err != nil {
		return nil, err
	}
	return info.Capacity, nil
}

// Offers returns the remote pool's offers; a draining server offers none.
func (c *Client) Offers(ctx context.Context) ([]pool.Offer, error) {
	var ws []offerWire
	if err := c.do(ctx, &request{op: "offers", method: "GET", path: prefix + "/offers", out: &ws}); err != nil {
		return nil, err
	}
	out := make([]pool.Offer, len(ws))
	for i, w := range ws {
		out[i] = &offer{c: c, id: w.ID, avail: w.Available}
	}
	return out, nil
}

// Alloc returns the live alloc with the given ID, or fails with
// ebb.ErrNotExist.
func (c *Client) Alloc(ctx context.Context, id string) (pool.Alloc, error) {
	if id == "" {
		return nil, fmt.Errorf("remote: alloc %q: %w", id, ebb.ErrNotExist)
	}
	var in pool.AllocInspect
	if err := c.do(ctx, &request{op: "alloc " + id, method: "GET", path: allocPath(id), out: &in}); err != nil {
		return nil, err
	}
	return c.newAlloc(in.ID, in.Resources), nil
}

// Allocs returns the remote pool's live allocs.
func (c *Client) Allocs(ctx context.Context) ([]pool.Alloc, error) {
	var ws []allocWire
	if err := c.do(ctx, &request{op: "allocs", method: "GET", path: prefix + "/allocs", out: &ws}); err != nil {
		return nil, err
	}
	out := make([]pool.Alloc, len(ws))
	for i, w := range ws {
		out[i] = c.newAlloc(w.ID, w.Resources)
	}
	return out, nil
}

// An offer is a remote offer: its ID and what it had available when it
// was listed.
type offer struct {
	c     *Client
	id    string
	avail ebb.Resources
}

var _ pool.Offer = (*offer)(nil)

func (o *offer) ID() string               { return o.id }
func (o *offer) Available() ebb.Resources { return o.avail.Clone() }

// Accept accepts the offer on the server. meta is checked here first, so
// a malformed one fails with ebb.ErrInvalid without a call. The request
// carries a fresh idempotency key, so that a retry after a lost answer
// gets the alloc the first attempt took, never a second one.
func (o *offer) Accept(ctx context.Context, meta pool.AllocMeta) (pool.Alloc, error) {
	op := "accept offer " + o.id
	if err := meta.Validate(); err != nil {
		return nil, fmt.Errorf("remote: %s: %w", op, err)
	}
	var key [16]byte
	rand.Read(key[:])
	var w allocWire
	err := o.c.do(ctx, &request{
		op: op, method: "POST", path: offerPath(o.id),
		header: http.Header{headerIdempotency: {hex.EncodeToString(key[:])}},
		in:     meta, out: &w,
	})
	if err != nil {
		return nil, err
	}
	return o.c.newAlloc(w.ID, w.Resources), nil
}

// An alloc is a handle on a remote alloc. Make one with Client.newAlloc.
type alloc struct {
	c     *Client
	id    string
	res   ebb.Resources
	batch *allocBatch // nil when the client does not batch
}

var _ pool.Alloc = (*alloc)(nil)

func (a *alloc) ID() string               { return a.id }
func (a *alloc) Pool() pool.Pool          { return a.c }
func (a *alloc) Resources() ebb.Resources { return a.res.Clone() }

func (a *alloc) call(op, method, path string) *request {
	return &request{op: op + " alloc " + a.id, method: method, path: path, scope: scopeAlloc}
}

// Inspect returns the alloc's state; an alloc the server no longer knows
// fails with ebb.ErrExpired.
func (a *alloc) Inspect(ctx context.Context) (pool.AllocInspect, error) {
	var in pool.AllocInspect
	req := a.call("inspect", "GET", allocPath(a.id))
	req.out = &in
	if err := a.c.do(ctx, req); err != nil {
		if errors.Is(err, ebb.ErrNotExist) {
			return in, fmt.Errorf("%w: %w", err, ebb.ErrExpired)
		}
		return in, err
	}
	return in, nil
}

// Keepalive renews the lease on the server; see pool.Alloc.
func (a *alloc) Keepalive(ctx context.Context, lease time.Duration) (time.Duration, error) {
	if lease <= 0 {
		return 0, fmt.Errorf("remote: keepalive alloc %s: lease %v: must be positive: %w", a.id, lease, ebb.ErrInvalid)
	}
	var out leaseWire
	req := a.call("keepalive", "POST", allocPath(a.id)+"/keepalive")
	req.in, req.out = leaseWire{LeaseNS: int64(lease)}, &out
	if err := a.c.do(ctx, req); err != nil {
		return 0, err
	}
	return time.Duration(out.LeaseNS), nil
}

// Free frees the alloc on the server. When an attempt's answer was lost
// and a retry finds the alloc gone, the lost attempt freed it, and Free
// returns nil.
func (a *alloc) Free(ctx context.Context) error {
	req := a.call("free", "DELETE", allocPath(a.id))
	err := a.c.do(ctx, req)
	if err != nil && req.retried() && errors.Is(err, ebb.ErrExpired) {
		return nil
	}
	return err
}

// Put starts an exec on the server, or returns the one known by id. A
// Func cannot cross the wire: Put refuses it with ebb.ErrInvalid, as it
// does a malformed id or cfg, without a call.
func (a *alloc) Put(ctx context.Context, id pool.ExecID, cfg pool.ExecConfig) (pool.Exec, error) {
	op := fmt.Sprintf("put %s in alloc %s", id, a.id)
	if cfg.Func != nil {
		return nil, fmt.Errorf("remote: %s: a Func exec cannot run in a remote pool: %w", op, ebb.ErrInvalid)
	}
	if err := validExecID(id); err != nil {
		return nil, fmt.Errorf("remote: %s: %w", op, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("remote: %s: %w", op, err)
	}
	var err error
	if a.batch != nil {
		_, err = a.batch.ops.call(ctx, op, opIn{op: opPut, id: id, cfg: cfg})
	} else {
		err = a.putOne(ctx, op, id, cfg)
	}
	if err != nil {
		return nil, err
	}
	return &exec{a: a, id: id}, nil
}

// putOne puts one exec, checked, in a call of its own.
func (a *alloc) putOne(ctx context.Context, op string, id pool.ExecID, cfg pool.ExecConfig) error {
	var in pool.ExecInspect
	return a.c.do(ctx, &request{op: op, method: "PUT", path: execPath(a.id, id), in: cfg, out: &in, scope: scopeAlloc})
}

// Exec returns the exec with the given ID, or ebb.ErrNotExist.
func (a *alloc) Exec(ctx context.Context, id pool.ExecID) (pool.Exec, error) {
	if err := validExecID(id); err != nil {
		return nil, fmt.Errorf("remote: exec %s in alloc %s: %w", id, a.id, err)
	}
	e := &exec{a: a, id: id}
	if _, err := e.Inspect(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// Execs returns the alloc's execs.
func (a *alloc) Execs(ctx context.Context) ([]pool.Exec, error) {
	var ids []pool.ExecID
	req := a.call("execs of", "GET", allocPath(a.id)+"/execs")
	req.out = &ids
	if err := a.c.do(ctx, req); err != nil {
		return nil, err
	}
	out := make([]pool.Exec, len(ids))
	for i, id := range ids {
		out[i] = &exec{a: a, id: id}
	}
	return out, nil
}

// Remove removes the exec on the server. When an attempt's answer was
// lost and a retry finds no such exec, the lost attempt removed it, and
// Remove returns nil.
func (a *alloc) Remove(ctx context.Context, id pool.ExecID) error {
	if err := validExecID(id); err != nil {
		return fmt.Errorf("remote: remove %s from alloc %s: %w", id, a.id, err)
	}
	op := fmt.Sprintf("remove %s from alloc %s", id, a.id)
	if a.batch != nil {
		_, err := a.batch.ops.call(ctx, op, opIn{op: opRemove, id: id})
		return err
	}
	return a.removeOne(ctx, op, id)
}

// removeOne removes one exec in a call of its own.
func (a *alloc) removeOne(ctx context.Context, op string, id pool.ExecID) error {
	req := &request{op: op, method: "DELETE", path: execPath(a.id, id), scope: scopeAlloc}
	err := a.c.do(ctx, req)
	if err != nil && req.retried() && errors.Is(err, ebb.ErrNotExist) {
		return nil
	}
	return err
}

// validExecID returns an error wrapping ebb.ErrInvalid unless id is a
// well-formed digest.
func validExecID(id pool.ExecID) error {
	if err := id.Validate(); err != nil {
		return fmt.Errorf("exec ID %q: %v: %w", id, err, ebb.ErrInvalid)
	}
	return nil
}
