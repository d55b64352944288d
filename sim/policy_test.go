package sim

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
	"github.com/ebbflow/ebb/stealer/policytest"
)

// policyClusters are the clusters the invariant runs draw from: the
// default one, and one of several shapes (a gpu among them) with few
// workers.
var policyClusters = []Cluster{
	{},
	{
		Primary:    ebb.Resources{ebb.CPU: 4, ebb.Mem: 16 << 30},
		Shapes:     []ebb.Resources{{ebb.CPU: 8, ebb.Mem: 32 << 30}, {ebb.CPU: 2, ebb.Mem: 4 << 30}, {ebb.CPU: 4, ebb.Mem: 16 << 30, ebb.GPU: 1}},
		MaxWorkers: 3,
	},
}

// TestPolicyInvariants holds every policy the simulator knows, ebb's
// default and each baseline, to the invariants of package policytest,
// over random snapshots. Every policy keeps the contract's; the ones that
// buy for the demand they see, and say for which tasks, keep those too.
func TestPolicyInvariants(t *testing.T) {
	cases := []struct {
		name     string
		rules    policytest.Rules
		stateful bool // keeps state across ticks, as a baseline may
	}{
		// Not ForDemand: a request the default counts at a cut (see
		// Snapshot.Recent) would be judged at its Max without the
		// default's own expectation, with which stealer's
		// TestDefaultInvariants holds it to those rules.
		{name: "default", rules: policytest.Rules{DemandShapes: true}},
		{name: "static"},
		{name: "static-max"},
		{name: "spark", stateful: true},
		{name: "dask", stateful: true},
		{name: "ray"},
		{name: "partek", stateful: true},
		{name: "reflow", rules: policytest.Rules{ForDemand: true, MaxPending: 1}},
	}
	for _, name := range PolicyNames() {
		if !slices.ContainsFunc(cases, func(c struct {
			name     string
			rules    policytest.Rules
			stateful bool
		}) bool {
			return c.name == name
		}) {
			t.Errorf("policy %s is not checked", name)
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := ParsePolicy(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			runs := 500
			if testing.Short() {
				runs = 100
			}
			policytest.Run(t, policytest.Config{
				New: func(r *rand.Rand) (stealer.Policy, policytest.Rules) {
					p, err := spec.New(policyClusters[r.IntN(len(policyClusters))])
					if err != nil {
						t.Fatal(err)
					}
					return p, tc.rules
				},
				Runs:     runs,
				Stateful: tc.stateful,
			})
		})
	}
}
