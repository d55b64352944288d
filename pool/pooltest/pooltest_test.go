package pooltest_test

import (
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
)

// newMemory returns a Config.New for memory pools made from cfg.
func newMemory(cfg pooltest.PoolConfig) func(t *testing.T) pool.Pool {
	return func(t *testing.T) pool.Pool {
		p := pooltest.NewPool(cfg)
		t.Cleanup(func() { p.Close() })
		return p
	}
}

var threeNodes = []ebb.Resources{
	{ebb.CPU: 8, ebb.Mem: 32 << 30, ebb.GPU: 2},
	{ebb.CPU: 4, ebb.Mem: 8 << 30},
	{ebb.CPU: 2, ebb.Mem: 4 << 30, ebb.Disk: 100 << 30},
}

func TestConformance(t *testing.T) {
	pooltest.Run(t, pooltest.Config{
		New:   newMemory(pooltest.PoolConfig{Nodes: threeNodes, Lease: 30 * time.Second}),
		Lease: 30 * time.Second,
	})
}

// TestConformanceLeaseFromInspect leaves Config.Lease to be read from the
// allocs, and caps the leases Keepalive grants.
func TestConformanceLeaseFromInspect(t *testing.T) {
	pooltest.Run(t, pooltest.Config{
		New: newMemory(pooltest.PoolConfig{Lease: time.Hour, MaxLease: 2 * time.Hour}),
	})
}

// TestConformanceCommands runs the suite with command execs, as a pool
// that runs only commands would.
func TestConformanceCommands(t *testing.T) {
	pooltest.Run(t, pooltest.Config{
		New:     newMemory(pooltest.PoolConfig{Nodes: threeNodes, Run: pooltest.Builtins}),
		Lease:   time.Minute,
		Block:   func() pool.ExecConfig { return pool.ExecConfig{Argv: []string{"sleep", "1000"}} },
		Succeed: func() pool.ExecConfig { return pool.ExecConfig{Argv: []string{"true"}} },
		Fail:    func() pool.ExecConfig { return pool.ExecConfig{Argv: []string{"false"}} },
	})
}
