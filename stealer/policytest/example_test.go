package policytest_test

import (
	"fmt"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
	"github.com/ebbflow/ebb/stealer/policytest"
)

// Check finds what is wrong with one plan: here a policy that gives back
// every alloc it holds, busy or not, and asks for one more with no reason.
func ExampleCheck() {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	s := stealer.Snapshot{
		Now:    now,
		Demand: []ebb.Demand{{Resources: ebb.Resources{ebb.CPU: 1}, Count: 2}},
		Held: []stealer.Held{
			{ID: "a1", Resources: ebb.Resources{ebb.CPU: 4}, Running: 4, Working: true},
			{ID: "a2", Resources: ebb.Resources{ebb.CPU: 4}, Working: true, IdleSince: now.Add(-time.Hour)},
		},
	}
	plan := stealer.Plan{
		Drain: []stealer.Drain{{AllocID: "a1", Reason: "idle?"}, {AllocID: "a2", Reason: "idle an hour"}},
		Acquire: []stealer.Request{{
			Requirements: ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}, Width: 2},
			For:          []ebb.Demand{{Resources: ebb.Resources{ebb.CPU: 1}, Count: 2}},
		}},
	}
	for _, bad := range policytest.Check(s, plan, policytest.Rules{ForDemand: true}) {
		fmt.Println(bad)
	}
	// Output:
	// drains busy alloc a1 (running 4)
	// acquire of 1 cpu ×2 has no reason
}
