package stealer

import (
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
)

// TestDefaultBuysEnoughForTheLongestChain checks step 5's measure: once
// a chain bounds the flow, the default buys the cpus that run the work
// left by the time it ends, not one for each task waiting.
func TestDefaultBuysEnoughForTheLongestChain(t *testing.T) {
	// 80 one-minute tasks wait on a busy 8-cpu primary, and the chain
	// through a running task ends in 10 min. Within the 30 s an alloc
	// takes, 4 of the 80 start.
	wide := func(c Critical, pend ...Pending) Snapshot {
		return Snapshot{
			Demand: []ebb.Demand{dem(cpus(1), 80)}, Others: []Held{primary(8)},
			TaskDuration: time.Minute, Critical: c, Pending: pend,
		}
	}
	slow := func(s Snapshot) Snapshot {
		s.Latency = []time.Duration{5 * time.Minute}
		return s
	}
	// The work left, 160 cpu-min, takes the primary 20 min, and runs
	// by the chain's end on 27 cpus: 19 more.
	known := Critical{End: 10 * time.Minute, Work: 160 * time.Minute, Packed: 20 * time.Minute, Cpus: 27, Ranked: true, Walked: true}
	narrow := known
	narrow.Cpus = 17
	longer := narrow
	longer.Chains = []Chain{{Length: 15 * time.Minute}}
	unranked, open, short, unknown := known, known, known, known
	unranked.Ranked = false
	open.Walked = false
	short.End = 20 * time.Second
	unknown.Cpus = 0
	// Held capacity runs the work left (80 cpu-min), list-scheduled, by
	// the chain's end: in 10 min less a second. A ready task heads a
	// chain of 5 min, which the schedule starts first, longest chain
	// first; started once the whole backlog has, it would end after
	// the running chain (so notSooner does not say "nothing sooner").
	enoughHeld := Critical{End: 10 * time.Minute, Work: 80 * time.Minute, Packed: 10*time.Minute - time.Second,
		Chains: []Chain{{Length: 5 * time.Minute}}, Ranked: true, Walked: true}
	for _, tc := range []struct {
		name string
		snap Snapshot
		want float64 // cpus acquired
		why  string  // in the first request's reason, or the hold's
	}{
		// An alloc bought comes in 30 s and runs 9.5 of the 10 min:
		// 19 × 10 / 9.5.
		{"the work left runs by the chain's end", wide(known), 20,
			"the work left runs on 27 cpu by the time its longest chain ends, in 10m0s: 20 cpu more, 0 of them asked for already"},
		// Allocs take 5 min: each runs half of the 10 min.
		{"an alloc that comes late runs less of it", slow(wide(narrow)), 18, "runs on 17 cpu"},
		// A ready task's chain ends in 15 min: 9 × 15 / 10.
		{"a ready task's chain is the longest", slow(wide(longer)), 14, "its longest chain ends, in 15m0s"},
		{"requests in flight count", wide(known, pending("r1", req(cpus(1), 3), 5*time.Second)), 17, "3 of them asked for already"},
		{"in flight, enough already", wide(known, pending("r1", req(cpus(1), 20), 5*time.Second)), 0, "20 of them asked for already"},
		// Uncapped, the tasks that would still wait when an alloc
		// comes are bought for: 76 of the 80, 72 with patience when
		// not every kind is known.
		{"kinds not all known: no cap", wide(unranked), 72, ""},
		{"tasks still to come: no cap", wide(open), 76, ""},
		{"the chain ends before an alloc comes: no cap", wide(short), 76, ""},
		{"no figure of the cpus the flow can use: no cap", wide(unknown), 76, ""},
		{"held capacity runs the work left by the chain's end: none", wide(enoughHeld), 0,
			"the work left runs on 8 cpu by the time its longest chain ends, in 10m0s: 0 cpu more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewDefault(DefaultConfig{})
			if err != nil {
				t.Fatal(err)
			}
			s := tc.snap
			s.Now = t0
			p := d.Plan(s)
			got := 0.0
			for _, a := range p.Acquire {
				got += a.Requirements.Max()[ebb.CPU]
			}
			if got != tc.want {
				t.Errorf("acquired %v cpu, want %v\n%s\n%s", got, tc.want, formatSnapshot(s), formatPlan(p))
			}
			reason := p.Hold
			if len(p.Acquire) > 0 {
				reason = p.Acquire[0].Reason
			}
			if !strings.Contains(reason, tc.why) {
				t.Errorf("reason %q does not say %q", reason, tc.why)
			}
		})
	}
}
