package tracing_test

import (
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
	"github.com/ebbflow/ebb/tracing"
)

// TestConformance runs the Pool conformance suite against a tracing
// cluster over a memory pool: wrapping changes nothing a caller of the
// pool can see. Its offers and allocs are the wrapper's, and the allocs
// name the tracing cluster as their Pool. It runs with spans and metrics
// both on, and with each alone, since Wrap takes different paths for each.
func TestConformance(t *testing.T) {
	const lease = 30 * time.Second
	nodes := []ebb.Resources{
		{ebb.CPU: 8, ebb.Mem: 32 << 30, ebb.GPU: 2},
		{ebb.CPU: 2, ebb.Mem: 4 << 30, ebb.Disk: 100 << 30},
	}
	for _, c := range []struct {
		name          string
		spans, metric bool
	}{
		{"spans+metrics", true, true},
		{"spans", true, false},
		{"metrics", false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			pooltest.Run(t, pooltest.Config{
				New: func(t *testing.T) pool.Pool {
					tel := newTelemetry(t)
					var cfg tracing.Config
					if c.spans {
						cfg.TracerProvider = tel.tp
					}
					if c.metric {
						cfg.MeterProvider = tel.mp
					}
					p := pooltest.NewPool(pooltest.PoolConfig{Nodes: nodes, Lease: lease})
					t.Cleanup(func() { p.Close() })
					return tracing.Wrap(cluster.NewStatic(p), cfg)
				},
				Lease: lease,
			})
		})
	}
}
