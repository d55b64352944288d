package local

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// An offer is a snapshot of what the pool had free at one version of its
// allocation table. It is immutable.
type offer struct {
	p       *Pool
	id      string
	version uint64
	avail   ebb.Resources
}

var _ pool.Offer = (*offer)(nil)

// Offers returns one offer, the capacity minus what every alloc holds, or
// none when nothing is free. It fails with ebb.ErrClosed after Close.
func (p *Pool) Offers(ctx context.Context) ([]pool.Offer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("local: pool %s: %w", p.cfg.ID, ebb.ErrClosed)
	}
	avail := free(p.capacity, p.used)
	if avail.IsZero() {
		return nil, nil
	}
	o := &offer{
		p:       p,
		id:      p.nonce + "." + strconv.FormatUint(p.version, 10),
		version: p.version,
		avail:   avail,
	}
	return []pool.Offer{o}, nil
}

// free returns capacity − used without the crumbs of floating-point
// rounding: a quantity within the tolerance of Resources.Fits of zero is
// zero, so that a pool whose capacity is all taken offers nothing.
func free(capacity, used ebb.Resources) ebb.Resources {
	out := capacity.Sub(used)
	for k, v := range out {
		if v <= 1e-9*math.Max(1, capacity[k]) {
			delete(out, k)
		}
	}
	return out
}

// ID names the offer by the pool's random nonce and the version of its
// allocation table.
func (o *offer) ID() string { return o.id }

// Available returns a copy of what was free when the offer was made.
func (o *offer) Available() ebb.Resources { return o.avail.Clone() }

// Accept takes an alloc of pool.Grant(Available, meta.Want). It fails with
// ebb.ErrInvalid for malformed meta, with ebb.ErrResources when Want.Min
// does not fit Available, with ebb.ErrOfferGone when any alloc was taken
// or returned since the offer was made (of many racing Accepts of one
// offer exactly one wins), and with ebb.ErrClosed after Close. On failure
// nothing is taken. The alloc's lease is Config.DefaultLease.
func (o *offer) Accept(ctx context.Context, meta pool.AllocMeta) (pool.Alloc, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := meta.Validate(); err != nil {
		return nil, fmt.Errorf("local: accept offer %s: %w", o.id, err)
	}
	res, ok := pool.Grant(o.avail, meta.Want)
	if !ok {
		return nil, fmt.Errorf("local: accept offer %s: want %s, offer has %s: %w", o.id, meta.Want.Min, o.avail, ebb.ErrResources)
	}
	a, err := o.take(res, meta)
	if err != nil {
		return nil, err
	}
	o.p.log.Info("alloc taken", "alloc", a.id, "resources", res, "owner", meta.Owner, "labels", meta.Labels)
	return a, nil
}

// take adds an alloc of res to the table if the table is still at the
// offer's version.
func (o *offer) take(res ebb.Resources, meta pool.AllocMeta) (*alloc, error) {
	p := o.p
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return nil, fmt.Errorf("local: accept offer %s: pool %s: %w", o.id, p.cfg.ID, ebb.ErrClosed)
	case p.version != o.version:
		return nil, fmt.Errorf("local: accept offer %s: allocs changed since: %w", o.id, ebb.ErrOfferGone)
	}
	p.seq++
	p.version++
	a := newAlloc(p, p.seq, res, meta, time.Now())
	p.allocs[a.id] = a
	p.used = p.used.Add(res)
	a.startLease(p.cfg.DefaultLease)
	return a, nil
}
