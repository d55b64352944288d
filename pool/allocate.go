package pool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/backoff"
)

// An Allocator takes allocs from pools: it picks the best-fitting offer,
// accepts it, and tries again when the offer was lost to another client or
// when nothing fits yet. The zero value is ready to use; an Allocator is a
// value and safe for concurrent use.
type Allocator struct {
	// Owner is recorded in the meta of every alloc taken.
	Owner string
	// MinWait and MaxWait pace the attempts after a lost race, a
	// transient error, or a look at the offers that found none big
	// enough: the first waits MinWait, each next one half again as long,
	// up to MaxWait, with a fifth of each wait jittered. Attempts go on
	// until ctx is done. Defaults: 10 ms and 1 s.
	MinWait, MaxWait time.Duration
}

func (a Allocator) backoff() backoff.Policy {
	p := backoff.Policy{Min: a.MinWait, Max: a.MaxWait, Factor: 1.5, Jitter: 0.2}
	if p.Min <= 0 {
		p.Min = 10 * time.Millisecond
	}
	if p.Max < p.Min {
		p.Max = max(p.Min, time.Second)
	}
	return p
}

// Allocate takes an alloc from p with a zero Allocator; see
// [Allocator.Allocate].
func Allocate(ctx context.Context, p Pool, req ebb.Requirements, labels ebb.Labels) (Alloc, error) {
	return Allocator{}.Allocate(ctx, p, req, labels)
}

// Allocate takes an alloc of req from p: it picks the smallest offer that
// satisfies req.Min (see [BestFit]) and accepts it, so the alloc holds
// as many units of req.Min as fit that offer, up to req.Width (see
// [Grant]).
//
// It blocks until an alloc is granted or ctx is done. While every offer is
// too small it waits for capacity to be freed, asking again at the pace of
// a.MinWait and a.MaxWait; a lost race ([ebb.ErrOfferGone]) or a transient error
// ([ebb.ErrUnavailable]) is retried the same way. A request that no node
// of p could ever hold fails at once with [ebb.ErrResources], and a
// malformed one with [ebb.ErrInvalid]. On failure nothing is taken. The
// queue is not fair: concurrent callers race for each offer, and a large
// request can wait behind a stream of small ones that keep the pool busy.
func (a Allocator) Allocate(ctx context.Context, p Pool, req ebb.Requirements, labels ebb.Labels) (Alloc, error) {
	meta := AllocMeta{Want: req, Owner: a.Owner, Labels: labels}
	if err := meta.Validate(); err != nil {
		return nil, fmt.Errorf("allocate from pool %s: %w", p.ID(), err)
	}
	caps, err := p.Capacity(ctx)
	if err != nil {
		return nil, fmt.Errorf("allocate from pool %s: capacity: %w", p.ID(), err)
	}
	if !slices.ContainsFunc(caps, req.Min.Fits) {
		return nil, fmt.Errorf("allocate %s from pool %s: no node could ever hold it (nodes: %s): %w",
			req, p.ID(), formatCapacity(caps), ebb.ErrResources)
	}
	policy := a.backoff()
	for try := 0; ; try++ {
		alloc, err := a.try(ctx, p, meta)
		switch {
		case err == nil && alloc != nil:
			return alloc, nil
		case err != nil && !ebb.Retryable(err):
			return nil, fmt.Errorf("allocate %s from pool %s: %w", req, p.ID(), err)
		}
		if err := policy.Sleep(ctx, try); err != nil {
			return nil, fmt.Errorf("allocate %s from pool %s: %w", req, p.ID(), err)
		}
	}
}

// try makes one attempt. It returns (nil, nil) when no offer fits now.
func (a Allocator) try(ctx context.Context, p Pool, meta AllocMeta) (Alloc, error) {
	offers, err := p.Offers(ctx)
	if err != nil {
		return nil, err
	}
	o := BestFit(offers, meta.Want.Min)
	if o == nil {
		return nil, nil
	}
	return o.Accept(ctx, meta)
}

// BestFit returns the offer with the smallest Available (by
// [ebb.Resources.Size]) that min fits in, or nil when none does. Ties go to
// the lowest offer ID, so the choice is deterministic.
func BestFit(offers []Offer, min ebb.Resources) Offer {
	var (
		best     Offer
		bestSize float64
	)
	for _, o := range offers {
		avail := o.Available()
		if !min.Fits(avail) {
			continue
		}
		size := avail.Size()
		if best == nil || size < bestSize || size == bestSize && o.ID() < best.ID() {
			best, bestSize = o, size
		}
	}
	return best
}

func formatCapacity(caps []ebb.Resources) string {
	if len(caps) == 0 {
		return "none"
	}
	s := make([]string, len(caps))
	for i, c := range caps {
		s[i] = "[" + c.String() + "]"
	}
	return strings.Join(s, " ")
}

// errGone reports whether err says the alloc no longer exists.
func errGone(err error) bool {
	return errors.Is(err, ebb.ErrExpired) || errors.Is(err, ebb.ErrNotExist)
}
