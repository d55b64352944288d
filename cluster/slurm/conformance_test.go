package slurm

import (
	"testing"
	"time"

	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/clustertest"
)

// TestConformance runs the Provider conformance suite on workers that are
// Slurm jobs.
func TestConformance(t *testing.T) {
	needSlurm(t)
	clustertest.RunProvider(t, clustertest.SuiteConfig{
		New: func(t *testing.T) cluster.Provider {
			return newProvider(t, Config{})
		},
		Again: func(t *testing.T, p cluster.Provider) cluster.Provider {
			return newProvider(t, p.(*Provider).cfg)
		},
		Timeout: 2 * time.Minute,
	})
}
