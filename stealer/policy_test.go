package stealer_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
	"github.com/ebbflow/ebb/stealer/policytest"
)

// newDefault returns a default policy with a configuration drawn from r,
// often odd (no room for a request, caps already passed), and the rules
// it promises: it buys only demanded shapes, for the demand, within its
// caps, counting a request at what it expects to be granted.
func newDefault(t testing.TB) func(r *rand.Rand) (stealer.Policy, policytest.Rules) {
	return func(r *rand.Rand) (stealer.Policy, policytest.Rules) {
		cfg := stealer.DefaultConfig{
			MaxPending: r.IntN(5),
			MaxAllocs:  r.IntN(8),
			MaxWidth:   r.IntN(6),
			MaxWiden:   r.IntN(4),
		}
		if r.IntN(2) == 0 {
			cfg.IdleTimeout = time.Duration(1+r.IntN(120)) * time.Second
		}
		if r.IntN(3) == 0 {
			cfg.MaxRequest = ebb.Resources{ebb.CPU: 4, ebb.Mem: 8 << 30}
		}
		d, err := stealer.NewDefault(cfg)
		if err != nil {
			t.Fatalf("NewDefault(%+v): %v", cfg, err)
		}
		cfg = d.Config() // with its defaults
		return d, policytest.Rules{
			ForDemand:    true,
			DemandShapes: true,
			MaxPending:   cfg.MaxPending,
			MaxAllocs:    cfg.MaxAllocs,
			MaxWidth:     cfg.MaxWidth,
			MaxRequest:   cfg.MaxRequest,
			Expect: func(s stealer.Snapshot, r ebb.Requirements) ebb.Resources {
				return stealer.ExpectedGrant(d, s, r)
			},
		}
	}
}

// TestDefaultInvariants holds the default policy to the invariants of
// every policy, and to those of one that buys for its demand within caps.
func TestDefaultInvariants(t *testing.T) {
	runs := 3000
	if testing.Short() {
		runs = 300
	}
	policytest.Run(t, policytest.Config{New: newDefault(t), Runs: runs})
}

func FuzzDefaultPlan(f *testing.F) {
	for _, seed := range []uint64{0, 1, 2, 42, 1 << 40} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed uint64) {
		policytest.Run(t, policytest.Config{New: newDefault(t), Runs: 1, Seed: seed})
	})
}
