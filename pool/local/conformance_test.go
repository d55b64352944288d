package local

import (
	"testing"

	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
)

// TestConformance runs the Pool conformance suite: with func execs (the
// default, lease subtests in synctest bubbles), and with commands.
func TestConformance(t *testing.T) {
	t.Run("funcs", func(t *testing.T) {
		pooltest.Run(t, pooltest.Config{
			New: func(t *testing.T) pool.Pool { return newPool(t, Config{}) },
		})
	})
	t.Run("commands", func(t *testing.T) {
		pooltest.Run(t, pooltest.Config{
			New:        func(t *testing.T) pool.Pool { return newPool(t, Config{}) },
			NoSynctest: true,
			Block:      func() pool.ExecConfig { return pool.ExecConfig{Argv: []string{"sleep", "1000"}} },
			Succeed:    func() pool.ExecConfig { return pool.ExecConfig{Argv: []string{"/bin/true"}} },
			Fail:       func() pool.ExecConfig { return pool.ExecConfig{Argv: []string{"/bin/false"}} },
		})
	})
}
