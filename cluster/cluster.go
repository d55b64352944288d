package cluster

import (
	"context"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// A Cluster is a Pool that can also Allocate: grant an alloc of the given
// requirements, growing if it can. Implementations must be safe for
// concurrent use.
type Cluster interface {
	pool.Pool

	// Allocate blocks until it grants an alloc that holds at least
	// req.Min (and up to req.Max), or until ctx is done. The labels travel
	// with the alloc. A cancelled Allocate leaves nothing behind: no alloc,
	// and no launch claimed for it. A request the cluster can never grant
	// fails at once with ebb.ErrResources; a malformed one with
	// ebb.ErrInvalid.
	Allocate(ctx context.Context, req ebb.Requirements, labels ebb.Labels) (pool.Alloc, error)
}
