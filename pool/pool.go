package pool

import (
	"context"
	"time"

	"github.com/ebbflow/ebb"
)

// A Pool holds resources on one or more nodes and hands them out as leased
// allocs. Implementations must be safe for concurrent use; every method
// that blocks takes a context and returns its error when it is done.
type Pool interface {
	// ID names the pool; it is stable for the pool's life and unique among
	// the pools a cluster holds.
	ID() string

	// Capacity returns, for every node of the pool, the most it could ever
	// offer: its total resources. A request whose Min fits none of them
	// can never be granted, and Allocate fails it at once. Callers own the
	// returned slice.
	Capacity(ctx context.Context) ([]ebb.Resources, error)

	// Offers returns what the pool can give right now, at most one offer
	// per node. Offers are snapshots: accepting one that has changed since
	// fails with ebb.ErrOfferGone.
	Offers(ctx context.Context) ([]Offer, error)

	// Alloc returns the live alloc with the given ID, so that a restarted
	// driver can re-attach to it. It fails with ebb.ErrNotExist when there
	// is none (never was, freed, or expired).
	Alloc(ctx context.Context, id string) (Alloc, error)

	// Allocs returns the pool's live allocs.
	Allocs(ctx context.Context) ([]Alloc, error)
}

// An Offer is a snapshot of what a pool can give on one node.
type Offer interface {
	// ID names the offer; a new snapshot of the same node gets a new ID
	// whenever what it offers changes.
	ID() string

	// Available returns the resources on offer. Callers own the result.
	Available() ebb.Resources

	// Accept turns the offer into an alloc sized by meta.Want: as many
	// units of Want.Min as fit in Available, up to Want.Width (see Grant). It fails with
	// ebb.ErrOfferGone when the offer was taken or has changed, with
	// ebb.ErrResources when Want.Min does not fit Available, and with
	// ebb.ErrInvalid when meta is malformed. On failure nothing is taken
	// and, unless the offer was gone, it can still be accepted.
	Accept(ctx context.Context, meta AllocMeta) (Alloc, error)
}

// AllocMeta describes the alloc a client asks for.
type AllocMeta struct {
	// Want is what the client needs (Min) and could use (Max).
	Want ebb.Requirements `json:"want"`
	// Owner names the holder, for people reading the pool's state.
	Owner string `json:"owner,omitempty"`
	// Labels travel with the alloc: run ID, program, user.
	Labels ebb.Labels `json:"labels,omitempty"`
}

// Validate returns an error wrapping ebb.ErrInvalid that names the bad field.
func (m AllocMeta) Validate() error {
	if err := m.Want.Validate(); err != nil {
		return err
	}
	return m.Labels.Validate()
}

// Grant returns the resources an alloc gets when want is accepted from an
// offer of available: as many whole units of want.Min as fit in available,
// at most max(1, want.Width) of them (see ebb.Requirements.UnitsIn), so an alloc never holds a part of a
// unit that no task could use. It reports false when want.Min does not fit
// in available. Every Pool sizes its allocs this way, so a request gets the
// same alloc from any of them.
func Grant(available ebb.Resources, want ebb.Requirements) (ebb.Resources, bool) {
	units := want.UnitsIn(available)
	if units == 0 {
		return nil, false
	}
	return want.Min.Scale(float64(units)), true
}

// An Alloc is a leased reservation of resources in a pool, in which execs
// run. It stays alive while its holder renews the lease with Keepalive, and
// ends with Free or when the lease lapses; either way its execs are killed
// and its resources go back to the pool. After that every method fails with
// ebb.ErrExpired.
//
// Implementations must be safe for concurrent use.
type Alloc interface {
	// ID names the alloc uniquely within its pool.
	ID() string

	// Pool returns the pool the alloc lives in.
	Pool() Pool

	// Resources returns what the alloc holds. Callers own the result.
	Resources() ebb.Resources

	// Inspect returns the alloc's current state.
	Inspect(ctx context.Context) (AllocInspect, error)

	// Keepalive renews the lease so that the alloc lives for at least
	// lease from now, and returns the lease the pool granted, which may be
	// shorter (pools cap it). It fails with ebb.ErrExpired when the alloc
	// is already gone, and with ebb.ErrInvalid when lease is not positive.
	Keepalive(ctx context.Context, lease time.Duration) (time.Duration, error)

	// Free kills the alloc's execs, waits for them to be gone, and returns
	// the resources to the pool. Freeing an alloc that is already gone
	// fails with ebb.ErrExpired and changes nothing.
	Free(ctx context.Context) error

	// Put starts an exec with the given ID, or returns the exec already
	// known by that ID (running or finished) without starting another: Put
	// is idempotent on id, whatever cfg says the second time. It fails
	// with ebb.ErrInvalid for a malformed cfg or id, and with
	// ebb.ErrResources when cfg.Resources do not fit in what the alloc has
	// free; an alloc never runs more than it holds.
	Put(ctx context.Context, id ExecID, cfg ExecConfig) (Exec, error)

	// Exec returns the exec with the given ID, or ebb.ErrNotExist.
	Exec(ctx context.Context, id ExecID) (Exec, error)

	// Execs returns the alloc's execs, running and finished.
	Execs(ctx context.Context) ([]Exec, error)

	// Remove forgets a finished exec and deletes its files, freeing the
	// memory it holds; a running exec is killed first. A later Put with
	// the same ID starts a new exec. It fails with ebb.ErrNotExist when
	// there is no such exec.
	Remove(ctx context.Context, id ExecID) error
}

// AllocInspect is the state of an alloc at one moment.
type AllocInspect struct {
	ID        string        `json:"id"`
	Pool      string        `json:"pool"`
	Resources ebb.Resources `json:"resources"`
	// Busy is the sum of the resources of the alloc's running execs.
	Busy ebb.Resources `json:"busy,omitempty"`
	// Running is the number of running execs.
	Running       int       `json:"running"`
	Meta          AllocMeta `json:"meta"`
	Created       time.Time `json:"created"`
	LastKeepalive time.Time `json:"last_keepalive"`
	Expires       time.Time `json:"expires"`
}
