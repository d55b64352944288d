package cluster

import (
	"context"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// Static is a Cluster over a fixed Pool: it never grows, and Allocate takes
// the best-fitting offer of the pool, waiting for capacity to be freed
// while none fits (see pool.Allocator). Static is a value; it is safe for
// concurrent use as its Pool is.
type Static struct {
	pool.Pool
	// Allocator paces the waits; its zero value is fine.
	Allocator pool.Allocator
}

var _ Cluster = Static{}

// NewStatic returns a Static cluster over p.
func NewStatic(p pool.Pool) Static { return Static{Pool: p} }

// Allocate takes an alloc from the pool; see pool.Allocator.Allocate.
func (s Static) Allocate(ctx context.Context, req ebb.Requirements, labels ebb.Labels) (pool.Alloc, error) {
	return s.Allocator.Allocate(ctx, s.Pool, req, labels)
}
