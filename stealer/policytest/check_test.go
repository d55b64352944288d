package policytest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
	"github.com/ebbflow/ebb/stealer/policytest"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func cpus(n float64) ebb.Resources { return ebb.Resources{ebb.CPU: n} }

func dem(r ebb.Resources, n int) ebb.Demand { return ebb.Demand{Resources: r, Count: n} }

func req(min ebb.Resources, width int) ebb.Requirements {
	return ebb.Requirements{Min: min, Width: width}
}

// TestCheck checks that Check finds what it is meant to, in a snapshot
// where four 1-cpu tasks wait, alloc a1 runs two, alloc a2 is idle, a3
// drains, a4 is granted but drains before it works, the primary is
// someone else's, and request r1 for two cpus is in flight.
func TestCheck(t *testing.T) {
	s := stealer.Snapshot{
		Now:    t0,
		Demand: []ebb.Demand{dem(cpus(1), 4)},
		Held: []stealer.Held{
			{ID: "a1", Resources: cpus(4), Free: cpus(2), Busy: cpus(2), Running: 2, Working: true, Since: t0.Add(-time.Hour)},
			{ID: "a2", Resources: cpus(4), Free: cpus(4), Busy: ebb.Resources{}, Working: true, Since: t0.Add(-time.Hour), IdleSince: t0.Add(-time.Minute)},
			{ID: "a3", Resources: cpus(4), Free: cpus(4), Busy: ebb.Resources{}, Working: true, Draining: true, Since: t0.Add(-time.Hour), IdleSince: t0.Add(-time.Minute)},
			{ID: "a4", Resources: cpus(4), Free: cpus(4), Busy: ebb.Resources{}, Draining: true, Since: t0, IdleSince: t0},
		},
		Others:  []stealer.Held{{ID: "primary", Resources: cpus(8), Free: ebb.Resources{}, Busy: cpus(8), Running: 8, Working: true}},
		Pending: []stealer.Pending{{ID: "r1", Requirements: req(cpus(1), 2), Since: t0.Add(-time.Second)}},
	}
	demanded := policytest.Rules{ForDemand: true, DemandShapes: true, MaxPending: 2, MaxAllocs: 6, MaxWidth: 4, MaxRequest: cpus(4)}
	acquire := func(r ebb.Requirements, n int) stealer.Request {
		return stealer.Request{Requirements: r, For: []ebb.Demand{dem(cpus(1), n)}, Reason: "x"}
	}
	for _, tc := range []struct {
		name  string
		rules policytest.Rules
		plan  stealer.Plan
		want  string // in a complaint; "" wants none
	}{
		{"nothing", demanded, stealer.Plan{}, ""},
		{"a good plan", demanded, stealer.Plan{
			Acquire: []stealer.Request{acquire(req(cpus(1), 2), 2)},
			Drain:   []stealer.Drain{{AllocID: "a2", Reason: "idle"}},
		}, ""},
		{"busy drain", policytest.Rules{}, stealer.Plan{Drain: []stealer.Drain{{AllocID: "a1", Reason: "x"}}}, "drains busy alloc a1"},
		{"drain of another's alloc", policytest.Rules{}, stealer.Plan{Drain: []stealer.Drain{{AllocID: "primary", Reason: "x"}}}, "does not hold"},
		{"drain of a draining alloc", policytest.Rules{}, stealer.Plan{Drain: []stealer.Drain{{AllocID: "a3", Reason: "x"}}}, "drains alloc a3 again"},
		{"drain of an alloc not working", policytest.Rules{}, stealer.Plan{Drain: []stealer.Drain{{AllocID: "a4", Reason: "x"}}}, "does not work yet"},
		{"drain twice", policytest.Rules{}, stealer.Plan{Drain: []stealer.Drain{{AllocID: "a2", Reason: "x"}, {AllocID: "a2", Reason: "x"}}}, "drains a2 twice"},
		{"no reason", policytest.Rules{}, stealer.Plan{Drain: []stealer.Drain{{AllocID: "a2"}}}, "has no reason"},
		{"a keep", policytest.Rules{}, stealer.Plan{Keep: []stealer.Keep{{AllocID: "a2", Reason: "x"}}}, ""},
		{"keep of another's alloc", policytest.Rules{}, stealer.Plan{Keep: []stealer.Keep{{AllocID: "primary", Reason: "x"}}}, "keeps primary, which the stealer does not hold"},
		{"keep of a drained alloc", policytest.Rules{}, stealer.Plan{
			Drain: []stealer.Drain{{AllocID: "a2", Reason: "x"}},
			Keep:  []stealer.Keep{{AllocID: "a2", Reason: "x"}},
		}, "keeps a2 and drains it"},
		{"keep twice", policytest.Rules{}, stealer.Plan{Keep: []stealer.Keep{{AllocID: "a2", Reason: "x"}, {AllocID: "a2", Reason: "x"}}}, "keeps a2 twice"},
		{"keep without a reason", policytest.Rules{}, stealer.Plan{Keep: []stealer.Keep{{AllocID: "a2"}}}, "keep of a2 has no reason"},
		{"cancel of no request", policytest.Rules{}, stealer.Plan{Cancel: []stealer.Cancel{{ID: "r9", Reason: "x"}}}, "not in flight"},
		{"cancel twice", policytest.Rules{}, stealer.Plan{Cancel: []stealer.Cancel{{ID: "r1", Reason: "x"}, {ID: "r1", Reason: "x"}}}, "cancels r1 twice"},
		{"invalid request", policytest.Rules{}, stealer.Plan{Acquire: []stealer.Request{acquire(req(cpus(-1), 1), 1)}}, "invalid"},
		{"needed cancel", demanded, stealer.Plan{Cancel: []stealer.Cancel{{ID: "r1", Reason: "x"}}}, "cancels r1"},
		{"beyond MaxPending", demanded, stealer.Plan{Acquire: []stealer.Request{acquire(req(cpus(1), 1), 1), acquire(req(cpus(1), 1), 1)}}, "beyond MaxPending"},
		{"beyond MaxAllocs", policytest.Rules{MaxAllocs: 5}, stealer.Plan{Acquire: []stealer.Request{acquire(req(cpus(1), 1), 1)}}, "beyond MaxAllocs"},
		{"beyond MaxWidth", demanded, stealer.Plan{Acquire: []stealer.Request{acquire(req(cpus(1), 5), 4)}}, "outside 1..MaxWidth"},
		{"for no task", demanded, stealer.Plan{Acquire: []stealer.Request{{Requirements: req(cpus(1), 1), Reason: "x"}}}, "for no task"},
		{"Max beyond MaxRequest", policytest.Rules{MaxRequest: cpus(3)}, stealer.Plan{Acquire: []stealer.Request{acquire(req(cpus(1), 4), 4)}}, "beyond MaxRequest"},
		{"shape nobody wants", demanded, stealer.Plan{Acquire: []stealer.Request{{Requirements: req(cpus(3), 1), For: []ebb.Demand{dem(cpus(1), 1)}, Reason: "x"}}}, "which no waiting task has"},
		{"for tasks that do not fit", demanded, stealer.Plan{Acquire: []stealer.Request{{Requirements: req(cpus(1), 1), For: []ebb.Demand{dem(cpus(2), 1)}, Reason: "x"}}}, "do not fit a unit"},
		{"for more than it holds", demanded, stealer.Plan{Acquire: []stealer.Request{acquire(req(cpus(1), 1), 2)}}, "not expected to hold"},
		{"for more tasks than wait", demanded, stealer.Plan{Acquire: []stealer.Request{acquire(req(cpus(1), 4), 3), acquire(req(cpus(1), 2), 2)}}, "only 4 wait"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := policytest.Check(s, tc.plan, tc.rules)
			got := strings.Join(bad, "\n")
			switch {
			case tc.want == "" && len(bad) > 0:
				t.Errorf("Check of a good plan:\n%s\ncomplains:\n%s", policytest.FormatPlan(tc.plan), got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Errorf("Check(%s) = %q, want a complaint that says %q", policytest.FormatPlan(tc.plan), bad, tc.want)
			}
		})
	}

	// Acquiring with nothing waiting.
	idle := s
	idle.Demand = nil
	plan := stealer.Plan{Acquire: []stealer.Request{acquire(req(cpus(1), 1), 1)}}
	if bad := policytest.Check(idle, plan, demanded); !strings.Contains(strings.Join(bad, "\n"), "with nothing waiting") {
		t.Errorf("Check of an acquire with nothing waiting = %q, want a complaint", bad)
	}
	if bad := policytest.Check(idle, plan, policytest.Rules{}); len(bad) > 0 {
		t.Errorf("Check of an acquire with nothing waiting, for a policy that need not buy for demand = %q, want none", bad)
	}
}

// TestCheckDemandShapes: a unit may hold any demanded task of as many
// cpus (its memory raised to theirs), never memory that no such task
// needs.
func TestCheckDemandShapes(t *testing.T) {
	mem := func(cpu, gib float64) ebb.Resources { return ebb.Resources{ebb.CPU: cpu, ebb.Mem: gib * (1 << 30)} }
	s := stealer.Snapshot{Now: t0, Demand: []ebb.Demand{dem(mem(1, 1), 4), dem(mem(1, 2), 1), dem(mem(2, 4), 1)}}
	for _, tc := range []struct {
		min  ebb.Resources
		want bool
	}{
		{mem(1, 1), true},
		{mem(1, 2), true},
		{mem(2, 4), true},
		{mem(1, 4), false}, // a 2-cpu task's memory
		{mem(1, 3), false},
		{mem(2, 2), false}, // less than the task of 2 cpus needs
	} {
		p := stealer.Plan{Acquire: []stealer.Request{{Requirements: req(tc.min, 1), For: []ebb.Demand{dem(mem(1, 1), 1)}, Reason: "x"}}}
		bad := policytest.Check(s, p, policytest.Rules{DemandShapes: true})
		if got := len(bad) == 0; got != tc.want {
			t.Errorf("Min %s: complaints %q, want ok %v", tc.min, bad, tc.want)
		}
	}
}
