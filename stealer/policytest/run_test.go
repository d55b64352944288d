package policytest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

// broken is a policy with one bug, over the default policy.
type broken struct {
	stealer.Policy
	bug   string
	calls int           // for "stateful"
	clock *atomic.Int64 // for "unrepeatable", shared by every instance
}

func (b *broken) Plan(s stealer.Snapshot) stealer.Plan {
	p := b.Policy.Plan(s)
	switch b.bug {
	case "changes-snapshot":
		for _, h := range s.Held {
			if h.Free != nil {
				h.Free[ebb.CPU] = -1
			}
		}
	case "stateful":
		b.calls++
		p.Hold = fmt.Sprintf("call %d", b.calls)
	case "unrepeatable":
		p.Hold = fmt.Sprintf("tick %d", b.clock.Add(1))
	case "panics":
		if len(s.Pending) > 3 {
			panic("too many requests")
		}
	case "drains-everything":
		for _, h := range s.Held {
			p.Drain = append(p.Drain, stealer.Drain{AllocID: h.ID, Reason: "all of them"})
		}
	}
	return p
}

// TestRunCatches checks that runs find each bug, with the message that
// says what it is, and that the default policy passes.
func TestRunCatches(t *testing.T) {
	for _, tc := range []struct {
		bug      string
		stateful bool
		want     string // "" for a policy that passes
	}{
		{"none", false, ""},
		{"changes-snapshot", false, "Plan changed its snapshot"},
		{"stateful", false, "not a function of its snapshot"},
		{"stateful", true, ""},
		{"unrepeatable", true, "not deterministic"},
		{"panics", false, "Plan panicked: too many requests"},
		{"drains-everything", false, "drains busy alloc"},
	} {
		t.Run(fmt.Sprintf("%s/stateful=%v", tc.bug, tc.stateful), func(t *testing.T) {
			var clock atomic.Int64
			cfg := Config{
				New: func(r *rand.Rand) (stealer.Policy, Rules) {
					d, err := stealer.NewDefault(stealer.DefaultConfig{})
					if err != nil {
						t.Fatal(err)
					}
					// Not ForDemand: what the default expects a
					// request to be granted (its Max, or less once
					// the cluster is seen to cut requests down) is
					// its own, and without it (Rules.Expect) a plan
					// that counts a request at a cut is judged at
					// its Max. stealer's TestDefaultInvariants holds
					// the default to those rules with its expectation.
					return &broken{Policy: d, bug: tc.bug, clock: &clock}, Rules{DemandShapes: true}
				},
				Stateful: tc.stateful,
			}
			var got string
			for i := range uint64(300) {
				if got = run(cfg, i); got != "" {
					break
				}
			}
			switch {
			case tc.want == "" && got != "":
				t.Errorf("a run failed a policy that keeps the invariants: %s", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Errorf("300 runs found %q, want a failure that says %q", got, tc.want)
			}
		})
	}
}
