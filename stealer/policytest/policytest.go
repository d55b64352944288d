package policytest

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

// Rules are what a policy promises beyond the contract every policy
// keeps; see the package documentation. The zero Rules promise nothing
// more.
type Rules struct {
	// ForDemand: the policy buys only for the demand it sees, and says
	// for which tasks (Request.For); its cancels leave no demand unmet.
	ForDemand bool

	// DemandShapes: every acquire's Min is one of the demanded shapes,
	// its memory and disk perhaps each raised to what another demanded
	// shape of as many cpus needs (a unit that holds any of them).
	DemandShapes bool

	// MaxPending, MaxAllocs and MaxWidth are the policy's caps; zero
	// leaves one unchecked.
	MaxPending, MaxAllocs, MaxWidth int

	// MaxRequest caps every acquire's Max; nil leaves it unchecked.
	MaxRequest ebb.Resources

	// Expect returns what the policy expects request r to be granted in
	// s, for the ForDemand checks. Nil means r.Max().
	Expect func(s stealer.Snapshot, r ebb.Requirements) ebb.Resources
}

// Config says how [Run] makes and feeds the policy under test. Only New
// is required.
type Config struct {
	// New returns a fresh policy and the rules it promises. It may draw
	// the policy's configuration from r; given generators alike it must
	// make policies alike, since Run makes two per run and compares their
	// plans.
	New func(r *rand.Rand) (stealer.Policy, Rules)

	// Runs is how many random runs to make: default 1000, or 200 with
	// -short. Each run feeds one fresh policy one to five snapshots,
	// seconds apart.
	Runs int

	// Seed picks the runs: run i draws from rand.NewPCG(Seed, i).
	Seed uint64

	// Stateful says that the policy keeps state from one Plan call to the
	// next, as some of the simulator's baselines do (against the Policy
	// contract, which they may break only in a simulator, where each run
	// has its own policy): Run then does not plan one snapshot twice on
	// one policy.
	Stateful bool
}

// t0 is when the first snapshot of every run is taken.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// Run checks the plans of the policies cfg.New makes over many random
// snapshots, failing t with the seed, the snapshot, the plan and every
// invariant broken. It stops at the first run that breaks one.
func Run(t *testing.T, cfg Config) {
	t.Helper()
	if cfg.New == nil {
		t.Fatal("policytest.Run: Config.New is nil")
	}
	runs := cfg.Runs
	if runs <= 0 {
		runs = 1000
		if testing.Short() {
			runs = 200
		}
	}
	for i := range uint64(runs) {
		if bad := run(cfg, i); bad != "" {
			t.Fatalf("policytest: run %d (Config.Seed %d): %s", i, cfg.Seed, bad)
		}
	}
}

// run makes run i and describes the first plan that breaks an invariant,
// or returns "".
func run(cfg Config, i uint64) string {
	newRand := func() *rand.Rand { return rand.New(rand.NewPCG(cfg.Seed, i)) }
	p, rules := cfg.New(newRand())
	twin, _ := cfg.New(newRand())
	r := rand.New(rand.NewPCG(^cfg.Seed, i)) // apart from what New draws
	now := t0
	for step := range 1 + r.IntN(5) {
		s := RandomSnapshot(r, now)
		before := cloneSnapshot(s)
		plan, err := safePlan(p, s)
		var bad []string
		if err != nil {
			bad = append(bad, err.Error())
		} else {
			bad = Check(s, plan, rules)
		}
		if !reflect.DeepEqual(s, before) {
			bad = append(bad, "Plan changed its snapshot")
		}
		if again, err := safePlan(twin, before); err != nil || !reflect.DeepEqual(again, plan) {
			bad = append(bad, fmt.Sprintf("Plan is not deterministic: a policy made alike planned (%v):\n%s", err, FormatPlan(again)))
		}
		if !cfg.Stateful {
			if again, err := safePlan(p, before); err != nil || !reflect.DeepEqual(again, plan) {
				bad = append(bad, fmt.Sprintf("Plan is not a function of its snapshot: planned again (%v):\n%s", err, FormatPlan(again)))
			}
			// Keep the twin in step.
			safePlan(twin, before)
		}
		if len(bad) > 0 {
			return fmt.Sprintf("step %d:\n%s\nsnapshot:\n%splan:\n%s", step, strings.Join(bad, "\n"), FormatSnapshot(s), FormatPlan(plan))
		}
		now = now.Add(time.Duration(1+r.IntN(30)) * time.Second)
	}
	return ""
}

// safePlan calls p.Plan(s), turning a panic into an error.
func safePlan(p stealer.Policy, s stealer.Snapshot) (plan stealer.Plan, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("Plan panicked: %v", v)
		}
	}()
	return p.Plan(s), nil
}
