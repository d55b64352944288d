package procs

import (
	"testing"
	"time"

	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/clustertest"
)

// TestConformance runs the Provider conformance suite on worker
// processes: TLS with pinned self-signed certificates, and plain HTTP.
func TestConformance(t *testing.T) {
	for _, noTLS := range []bool{false, true} {
		name := "tls"
		if noTLS {
			name = "http"
		}
		t.Run(name, func(t *testing.T) {
			clustertest.RunProvider(t, clustertest.SuiteConfig{
				New: func(t *testing.T) cluster.Provider {
					return newProvider(t, Config{NoTLS: noTLS})
				},
				Again: func(t *testing.T, p cluster.Provider) cluster.Provider {
					return newProvider(t, p.(*Provider).cfg)
				},
				Timeout: time.Minute,
			})
		})
	}
}
