package stealer

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
)

// flowTail is a flow's tail: a1 idle for a second, a2 of 4 cpus running
// busy tasks, the primary with 2 of its 4 cpus free, and left, the tasks
// left to start, listed.
func flowTail(busy int, left ebb.Demand) Snapshot {
	return Snapshot{Held: []Held{working("a1", 4, 0, time.Second), working("a2", 4, busy, 0)},
		Others: []Held{{ID: "primary", Resources: cpus(4), Free: cpus(2), Busy: cpus(2), Running: 2, Working: true}},
		Critical: Critical{End: 5 * time.Minute, Work: time.Duration(left.Count) * time.Minute,
			Chains: []Chain{{In: time.Minute, Length: time.Minute}},
			Walked: true, Waiting: left.Count, Left: []ebb.Demand{left}}}
}

func TestDefaultPlan(t *testing.T) {
	for _, tc := range []struct {
		name        string
		cfg         DefaultConfig
		snap        Snapshot
		wantAcquire []ebb.Requirements
		wantCancel  []RequestID
		wantDrain   []string
		wantHold    string   // a substring of Plan.Hold; "" wants none
		wantReasons []string // substrings of the reasons, in any item
	}{{
		name: "nothing to do",
	}, {
		name:        "burst with nothing held",
		snap:        Snapshot{Demand: []ebb.Demand{dem(shape(1, 2), 12)}},
		wantAcquire: []ebb.Requirements{req(shape(1, 2), 12)},
		wantReasons: []string{"requested 12 cpu, 24.0 GiB mem for 12 waiting tasks: nothing held can run them"},
	}, {
		name: "ranked: a unit holds the largest task of its cpus waiting",
		snap: Snapshot{Demand: []ebb.Demand{dem(shape(1, 1), 8), dem(shape(1, 0.75), 8)},
			Nodes: []ebb.Resources{shape(8, 32)}, Critical: Critical{Ranked: true}},
		wantAcquire: []ebb.Requirements{req(shape(1, 1), 8), req(shape(1, 1), 8)},
		wantReasons: []string{"requested 8 cpu, 8.0 GiB mem for 8 waiting tasks"},
	}, {
		name: "largest first: a unit holds the tasks it is for",
		snap: Snapshot{Demand: []ebb.Demand{dem(shape(1, 1), 8), dem(shape(1, 0.75), 8)},
			Nodes: []ebb.Resources{shape(8, 32)}},
		wantAcquire: []ebb.Requirements{req(shape(1, 1), 8), req(shape(1, 0.75), 8)},
	}, {
		name: "ranked: no unit padded past what a node holds of it",
		snap: Snapshot{Demand: []ebb.Demand{dem(shape(1, 1), 1), dem(shape(1, 0.75), 16)},
			Nodes: []ebb.Resources{shape(8, 7)}, Critical: Critical{Ranked: true}},
		wantAcquire: []ebb.Requirements{req(shape(1, 1), 7), req(shape(1, 0.75), 8), req(shape(1, 0.75), 2)},
	}, {
		name: "ranked: a unit holds no task that needs what it lacks",
		snap: Snapshot{Demand: []ebb.Demand{dem(ebb.Resources{ebb.CPU: 1, ebb.GPU: 1, ebb.Mem: 4 * gib}, 1), dem(shape(1, 0.75), 8)},
			Nodes: []ebb.Resources{shape(8, 32), {ebb.CPU: 8, ebb.GPU: 1, ebb.Mem: 32 * gib}}, Critical: Critical{Ranked: true}},
		wantAcquire: []ebb.Requirements{req(ebb.Resources{ebb.CPU: 1, ebb.GPU: 1, ebb.Mem: 4 * gib}, 1), req(shape(1, 0.75), 8)},
	}, {
		name:        "burst wider than MaxWidth",
		snap:        Snapshot{Demand: []ebb.Demand{dem(cpus(1), 40)}},
		wantAcquire: []ebb.Requirements{req(cpus(1), 16), req(cpus(1), 16), req(cpus(1), 8)},
	}, {
		name: "burst on a busy primary buys what would still wait",
		snap: Snapshot{Demand: []ebb.Demand{dem(cpus(1), 48)}, Others: []Held{primary(2)}, Remaining: 30 * time.Second},
		// 48 tasks of 1 min on 2 cpus (their running ones half done)
		// start over 24 min; in the 30 s an alloc takes, one of them
		// starts: buy 47.
		wantAcquire: []ebb.Requirements{req(cpus(1), 16), req(cpus(1), 16), req(cpus(1), 15)},
		wantReasons: []string{"for 16 waiting tasks: backlog drains in 24m0s on held capacity, allocation takes 30s"},
	}, {
		name:     "small backlog starts before an alloc would arrive",
		snap:     Snapshot{Demand: []ebb.Demand{dem(cpus(1), 2)}, Others: []Held{primary(8)}, TaskDuration: 10 * time.Second},
		wantHold: "held: 2 tasks waiting: backlog drains in 3s on held capacity, allocation takes 30s",
	}, {
		name:     "short tasks from the config make it patient",
		cfg:      DefaultConfig{TaskDuration: time.Second},
		snap:     Snapshot{Demand: []ebb.Demand{dem(cpus(1), 20)}, Others: []Held{primary(2)}, Remaining: 500 * time.Millisecond},
		wantHold: "backlog drains in 10s",
	}, {
		name: "learned latency makes it patient",
		snap: Snapshot{
			Demand:    []ebb.Demand{dem(cpus(1), 10)},
			Others:    []Held{primary(2)},
			Latency:   []time.Duration{5 * time.Minute, 4 * time.Minute, 6 * time.Minute},
			Remaining: 30 * time.Second,
		},
		wantHold: "backlog drains in 5m0s on held capacity, allocation takes 5m0s",
	}, {
		name: "the oldest request in flight raises the latency",
		snap: Snapshot{
			Demand:  []ebb.Demand{dem(cpus(1), 10)},
			Others:  []Held{primary(2)},
			Pending: []Pending{pending("r1", req(cpus(1), 2), 10*time.Minute)},
		},
		wantHold: "allocation takes 10m0s",
	}, {
		name: "demand placed on a request in flight",
		snap: Snapshot{
			Demand:  []ebb.Demand{dem(cpus(1), 8)},
			Pending: []Pending{pending("r1", req(cpus(1), 8), 5*time.Second)},
		},
		wantHold: "held: 8 tasks waiting, covered by 1 request in flight and 0 new allocs starting",
	}, {
		name: "more in flight than needed: the newest is cancelled",
		snap: Snapshot{
			Demand: []ebb.Demand{dem(cpus(1), 5)},
			Pending: []Pending{
				pending("r2", req(cpus(1), 8), 5*time.Second),
				pending("r1", req(cpus(1), 8), 10*time.Second),
			},
		},
		wantCancel:  []RequestID{"r2"},
		wantReasons: []string{"cancelled request r2 (1 cpu ×8): demand gone (the 5 tasks waiting go to held allocs and older requests)"},
		wantHold:    "covered by 1 request",
	}, {
		name: "demand gone: every request cancelled",
		snap: Snapshot{Pending: []Pending{
			pending("r1", req(cpus(1), 8), 5*time.Second),
			pending("r2", req(cpus(4), 1), 5*time.Second),
		}},
		wantCancel:  []RequestID{"r1", "r2"},
		wantReasons: []string{"cancelled request r1 (1 cpu ×8): demand gone"},
	}, {
		name: "a request for a shape no longer demanded is cancelled",
		snap: Snapshot{
			Demand:  []ebb.Demand{dem(cpus(8), 1)},
			Pending: []Pending{pending("r1", req(cpus(1), 4), 5*time.Second)},
		},
		wantCancel:  []RequestID{"r1"},
		wantAcquire: []ebb.Requirements{req(cpus(8), 1)},
	}, {
		name: "demand fits an alloc that is about to work",
		snap: Snapshot{
			Demand: []ebb.Demand{dem(cpus(1), 3)},
			Held:   []Held{{ID: "a1", Resources: cpus(4), Free: cpus(4), IdleSince: t0, Since: t0}},
		},
		wantHold: "covered by 0 requests in flight and 1 new alloc starting",
	}, {
		name:        "idle past the timeout: drained",
		cfg:         DefaultConfig{IdleTimeout: time.Minute},
		snap:        Snapshot{Held: []Held{working("a1", 4, 0, 61*time.Second)}},
		wantDrain:   []string{"a1"},
		wantReasons: []string{"drained alloc a1: idle 1m1s (idle timeout 1m0s)"},
	}, {
		name:      "idle exactly the timeout: drained",
		cfg:       DefaultConfig{IdleTimeout: time.Minute},
		snap:      Snapshot{Held: []Held{working("a1", 4, 0, time.Minute)}},
		wantDrain: []string{"a1"},
	}, {
		name: "idle under the timeout: kept",
		cfg:  DefaultConfig{IdleTimeout: time.Minute},
		snap: Snapshot{Held: []Held{working("a1", 4, 0, 59*time.Second)}},
	}, {
		name: "nothing left to start: idle allocs drained at once, requests cancelled",
		snap: Snapshot{Held: []Held{working("a1", 4, 0, time.Second), working("a2", 4, 1, 0)},
			Others:   []Held{primary(4)},
			Pending:  []Pending{pending("r1", req(cpus(1), 4), 10*time.Second)},
			Critical: Critical{End: 5 * time.Minute, Walked: true}},
		wantDrain:   []string{"a1"},
		wantCancel:  []RequestID{"r1"},
		wantReasons: []string{"drained alloc a1: idle 1s, and no task is left to start"},
	}, {
		name:        "the tasks left fit on what stays: idle allocs drained at once",
		snap:        flowTail(3, dem(cpus(1), 3)),
		wantDrain:   []string{"a1"},
		wantReasons: []string{"drained alloc a1: idle 1s, and the 3 tasks left to start fit at once on the capacity that stays"},
	}, {
		name: "the tasks left need an idle alloc: kept to its timeout",
		snap: flowTail(3, dem(cpus(1), 4)),
	}, {
		name: "a task left wider than any free room: kept to its timeout",
		snap: flowTail(2, dem(cpus(3), 1)),
	}, {
		name: "the tasks left not listed: kept to its timeout",
		snap: Snapshot{Held: []Held{working("a1", 4, 0, time.Second)},
			Others:   []Held{{ID: "primary", Resources: cpus(4), Free: cpus(4), Working: true}},
			Critical: Critical{End: 5 * time.Minute, Work: time.Hour, Walked: true, Waiting: 300}},
	}, {
		name: "what is left not walked: kept to its timeout",
		snap: Snapshot{Held: []Held{working("a1", 4, 0, time.Second)},
			Others:   []Held{{ID: "primary", Resources: cpus(4), Free: cpus(4), Working: true}},
			Critical: Critical{End: 5 * time.Minute}},
	}, {
		name: "nothing left, though no running task's end is known: drained at once",
		snap: Snapshot{Held: []Held{working("a1", 4, 0, time.Second), working("a2", 4, 1, 0)},
			Others:   []Held{primary(4)},
			Critical: Critical{Walked: true}},
		wantDrain: []string{"a1"},
	}, {
		name: "busy: never drained",
		cfg:  DefaultConfig{IdleTimeout: time.Minute},
		snap: Snapshot{Held: []Held{
			working("a1", 4, 2, 0),
			// Running but with a stale idle time: still busy.
			{ID: "a2", Resources: cpus(4), Free: cpus(3), Busy: cpus(1), Running: 1, Working: true, IdleSince: t0.Add(-time.Hour)},
		}},
	}, {
		name: "draining already: not drained again",
		cfg:  DefaultConfig{IdleTimeout: time.Minute},
		snap: Snapshot{Held: []Held{func() Held { h := working("a1", 4, 0, time.Hour); h.Draining = true; return h }()}},
	}, {
		name: "the primary is never drained",
		cfg:  DefaultConfig{IdleTimeout: time.Minute},
		snap: Snapshot{Others: []Held{{ID: "primary", Resources: cpus(4), Free: cpus(4), Working: true, IdleSince: t0.Add(-time.Hour)}}},
	}, {
		name: "an alloc not working yet is not drained",
		cfg:  DefaultConfig{IdleTimeout: time.Minute},
		snap: Snapshot{Held: []Held{{ID: "a1", Resources: cpus(4), Free: cpus(4), IdleSince: t0.Add(-time.Hour), Since: t0.Add(-time.Hour)}}},
	}, {
		name: "default idle timeout: under it, kept",
		snap: Snapshot{Held: []Held{working("a1", 4, 0, time.Second)}, Latency: []time.Duration{2 * time.Minute}},
	}, {
		name:        "default idle timeout: past it, drained however slow allocation is",
		snap:        Snapshot{Held: []Held{working("a1", 4, 0, 2*time.Second)}, Latency: []time.Duration{2 * time.Minute}},
		wantDrain:   []string{"a1"},
		wantReasons: []string{"drained alloc a1: idle 2s (idle timeout 2s)"},
	}, {
		name: "re-buys widen the default idle timeout up to the latency",
		snap: Snapshot{
			Held: []Held{working("a1", 4, 0, 31*time.Second), working("a2", 4, 0, 29*time.Second)},
			// Five releases each bought back 10 s later: 2 s doubled
			// five times is 64 s, but keeping an alloc idle for longer
			// than a new one takes to come never pays.
			Latency: []time.Duration{30 * time.Second},
			Recent:  rebuyPairs(5, 10*time.Second),
		},
		wantDrain:   []string{"a1"},
		wantReasons: []string{"drained alloc a1: idle 31s (idle timeout 30s, widened after 5 re-buys)"},
	}, {
		name: "a re-buy is an acquisition within the latency of a release",
		snap: Snapshot{
			// Bought back 20 s after the release: ten times the idle
			// timeout, but sooner than a new alloc comes (30 s).
			Held:   []Held{working("a1", 4, 0, 3*time.Second)},
			Recent: rebuyPairs(1, 20*time.Second),
		},
	}, {
		name: "an acquisition later than the latency after a release is no re-buy",
		snap: Snapshot{
			Held:   []Held{working("a1", 4, 0, 3*time.Second)},
			Recent: rebuyPairs(1, 40*time.Second),
		},
		wantDrain:   []string{"a1"},
		wantReasons: []string{"(idle timeout 2s)"},
	}, {
		name: "a release is re-bought once, however many acquisitions follow it",
		cfg:  DefaultConfig{IdleTimeout: time.Minute},
		snap: Snapshot{
			// Counted once per acquisition, this would be three
			// re-buys and an idle timeout of 8 min.
			Held: []Held{working("a1", 4, 0, 150*time.Second)},
			Recent: []Change{
				{Time: t0.Add(-10 * time.Minute), Kind: Released, Resources: cpus(4)},
				{Time: t0.Add(-9 * time.Minute), Kind: Acquired, Resources: cpus(4)},
				{Time: t0.Add(-9 * time.Minute), Kind: Acquired, Resources: cpus(4)},
				{Time: t0.Add(-9 * time.Minute), Kind: Acquired, Resources: cpus(4)},
			},
		},
		wantDrain:   []string{"a1"},
		wantReasons: []string{"idle timeout 2m0s, widened after 1 re-buy"},
	}, {
		name: "a re-buy widens the idle timeout",
		cfg:  DefaultConfig{IdleTimeout: time.Minute},
		snap: Snapshot{
			Held: []Held{working("a1", 4, 0, 90*time.Second)},
			Recent: []Change{
				{Time: t0.Add(-10 * time.Minute), Kind: Released, Resources: cpus(4)},
				{Time: t0.Add(-9 * time.Minute), Kind: Acquired, Resources: cpus(4)},
			},
		},
	}, {
		name: "widened, and idle past the widened timeout",
		cfg:  DefaultConfig{IdleTimeout: time.Minute},
		snap: Snapshot{
			Held: []Held{working("a1", 4, 0, 121*time.Second)},
			Recent: []Change{
				{Time: t0.Add(-10 * time.Minute), Kind: Released, Resources: cpus(4)},
				{Time: t0.Add(-9 * time.Minute), Kind: Acquired, Resources: cpus(4)},
			},
		},
		wantDrain:   []string{"a1"},
		wantReasons: []string{"idle timeout 2m0s, widened after 1 re-buy"},
	}, {
		name: "the widening narrows back once the re-buy is old",
		cfg:  DefaultConfig{IdleTimeout: time.Minute},
		snap: Snapshot{
			Held: []Held{working("a1", 4, 0, 90*time.Second)},
			Recent: []Change{
				{Time: t0.Add(-21 * time.Minute), Kind: Released, Resources: cpus(4)},
				{Time: t0.Add(-20 * time.Minute), Kind: Acquired, Resources: cpus(4)},
			},
		},
		wantDrain: []string{"a1"},
	}, {
		name: "an acquisition long after a release is no re-buy",
		cfg:  DefaultConfig{IdleTimeout: time.Minute},
		snap: Snapshot{
			Held: []Held{working("a1", 4, 0, 90*time.Second)},
			Recent: []Change{
				{Time: t0.Add(-10 * time.Minute), Kind: Released, Resources: cpus(4)},
				{Time: t0.Add(-5 * time.Minute), Kind: Acquired, Resources: cpus(4)},
			},
		},
		wantDrain: []string{"a1"},
	}, {
		name: "MaxPending caps what is added",
		cfg:  DefaultConfig{MaxPending: 2},
		snap: Snapshot{
			Demand:  []ebb.Demand{dem(cpus(1), 100)},
			Pending: []Pending{pending("r1", req(cpus(1), 8), time.Second)},
		},
		wantAcquire: []ebb.Requirements{req(cpus(1), 16)},
		wantHold:    "held: 76 tasks more would be bought, but 2 requests in flight (MaxPending 2)",
	}, {
		name: "MaxAllocs caps held and asked for together",
		cfg:  DefaultConfig{MaxAllocs: 3},
		snap: Snapshot{
			Demand: []ebb.Demand{dem(cpus(1), 100)},
			Held:   []Held{working("a1", 4, 4, 0), working("a2", 4, 4, 0)},
		},
		wantAcquire: []ebb.Requirements{req(cpus(1), 16)},
		wantHold:    "3 allocs held and asked for (MaxAllocs 3)",
	}, {
		name: "at the caps already: nothing bought",
		cfg:  DefaultConfig{MaxAllocs: 2},
		snap: Snapshot{
			Demand: []ebb.Demand{dem(cpus(1), 100)},
			Held:   []Held{working("a1", 4, 4, 0), working("a2", 4, 4, 0)},
		},
		wantHold: "MaxAllocs 2",
	}, {
		name:        "small tasks join a bigger request's units",
		snap:        Snapshot{Demand: []ebb.Demand{dem(cpus(1), 3), dem(cpus(4), 2)}},
		wantAcquire: []ebb.Requirements{req(cpus(4), 3)},
		wantReasons: []string{"requested 12 cpu for 5 waiting tasks"},
	}, {
		name: "shapes that do not fit each other get requests of their own",
		snap: Snapshot{Demand: []ebb.Demand{dem(shape(4, 1), 1), dem(shape(1, 8), 1)}},
		// By Size, {4 cpu, 1 GiB} weighs 4.25 and {1 cpu, 8 GiB} 3.
		wantAcquire: []ebb.Requirements{req(shape(4, 1), 1), req(shape(1, 8), 1)},
	}, {
		name:        "ranked: a unit holds no task of other cpus",
		snap:        Snapshot{Demand: []ebb.Demand{dem(shape(4, 1), 1), dem(shape(1, 8), 1)}, Critical: Critical{Ranked: true}},
		wantAcquire: []ebb.Requirements{req(shape(4, 1), 1), req(shape(1, 8), 1)},
	}, {
		name: "MaxRequest caps the width, and a task beyond it goes alone",
		cfg:  DefaultConfig{MaxRequest: shape(4, 8)},
		snap: Snapshot{Demand: []ebb.Demand{dem(shape(8, 1), 1), dem(shape(1, 1), 10)}},
		wantAcquire: []ebb.Requirements{
			req(shape(8, 1), 1),
			req(shape(1, 1), 4), req(shape(1, 1), 4), req(shape(1, 1), 2),
		},
	}, {
		name:     "tasks that need nothing run on anything held",
		snap:     Snapshot{Demand: []ebb.Demand{dem(nil, 5)}, Others: []Held{primary(1)}},
		wantHold: "held: 5 tasks waiting",
	}, {
		name: "a draining alloc is no capacity",
		snap: Snapshot{
			Demand: []ebb.Demand{dem(cpus(1), 1)},
			Held:   []Held{func() Held { h := working("a1", 8, 8, 0); h.Draining = true; return h }()},
		},
		wantAcquire: []ebb.Requirements{req(cpus(1), 1)},
		wantReasons: []string{"nothing held can run them"},
	}, {
		name: "requests in flight count at what the cluster cuts them to",
		snap: Snapshot{
			Demand:  []ebb.Demand{dem(shape(1, 2), 24)},
			Pending: []Pending{pending("r1", req(shape(1, 2), 16), 5*time.Second)},
			// Two allocs asked for together, granted alike: the
			// cluster cuts a request to 8 units of this shape.
			Recent: []Change{
				{Time: t0.Add(-time.Minute), Kind: Acquired, Resources: shape(8, 16)},
				{Time: t0.Add(-time.Minute), Kind: Acquired, Resources: shape(8, 16)},
			},
		},
		// r1 brings 8 of the 24; the other 16 need two more requests,
		// the first asking for all 16 units it could use.
		wantAcquire: []ebb.Requirements{req(shape(1, 2), 16), req(shape(1, 2), 8)},
		wantReasons: []string{
			"requested 16 cpu, 32.0 GiB mem for 8 waiting tasks (8 of 16 units expected: allocs granted lately hold 8 cpu, 16.0 GiB mem): nothing held can run them",
			"requested 8 cpu, 16.0 GiB mem for 8 waiting tasks: nothing held can run them",
		},
	}, {
		name: "grants asked for apart are no evidence of a cut",
		snap: Snapshot{
			Demand:  []ebb.Demand{dem(shape(1, 2), 24)},
			Pending: []Pending{pending("r1", req(shape(1, 2), 16), 5*time.Second)},
			// Each may have been all its request asked for.
			Recent: []Change{
				{Time: t0.Add(-time.Minute), Kind: Acquired, Resources: shape(8, 16)},
				{Time: t0.Add(-2 * time.Minute), Kind: Acquired, Resources: shape(8, 16)},
			},
		},
		wantAcquire: []ebb.Requirements{req(shape(1, 2), 8)},
	}, {
		name: "a cut is counted at no less than one unit",
		snap: Snapshot{
			Demand:  []ebb.Demand{dem(cpus(4), 4)},
			Pending: []Pending{pending("r1", req(cpus(4), 4), 5*time.Second)},
			// Allocs smaller than one unit say nothing of this shape.
			Recent: []Change{
				{Time: t0.Add(-time.Minute), Kind: Acquired, Resources: cpus(2)},
				{Time: t0.Add(-time.Minute), Kind: Acquired, Resources: cpus(2)},
			},
		},
		wantHold: "covered by 1 request in flight",
	}, {
		name: "alike requests in flight: the newest that the demand does not need are cancelled",
		snap: Snapshot{
			Demand: []ebb.Demand{dem(cpus(1), 9)},
			Pending: []Pending{
				pending("r1", req(cpus(1), 4), 50*time.Second),
				pending("r2", req(cpus(1), 4), 40*time.Second),
				pending("r3", req(cpus(1), 4), 30*time.Second),
				pending("r4", req(cpus(1), 4), 20*time.Second),
				pending("r5", req(cpus(1), 4), 10*time.Second),
			},
		},
		wantCancel: []RequestID{"r4", "r5"},
		wantHold:   "covered by 3 requests in flight",
	}, {
		name: "once durations are known, a backlog held capacity starts soon is left to it",
		snap: Snapshot{Demand: []ebb.Demand{dem(cpus(1), 6)}, Others: []Held{primary(8)}, TaskDuration: 2 * time.Minute},
		// 6 two-minute tasks start on 8 cpus within 90 s: later than
		// an alloc would come (30 s), no later than that plus the
		// patience (four times the latency, at most half a task's run).
		wantHold: "held: 6 tasks waiting: backlog drains in 1m30s on held capacity, allocation takes 30s, patience 1m0s",
	}, {
		name: "patience is at most half a task's run",
		snap: Snapshot{Demand: []ebb.Demand{dem(cpus(1), 12)}, Others: []Held{primary(8)}, TaskDuration: time.Minute},
		// 12 one-minute tasks start on 8 cpus within 90 s. Patience is
		// half a task's minute, not the whole of it: within 30 s + 30 s,
		// 8 start; the last 4 would wait past it, and are bought for.
		wantAcquire: []ebb.Requirements{req(cpus(1), 4)},
		wantReasons: []string{"backlog drains in 1m30s on held capacity, allocation takes 30s, patience 30s"},
	}, {}, {
		name: "a purchase that ends nothing sooner is not made",
		snap: Snapshot{
			Demand: []ebb.Demand{dem(cpus(1), 12)}, Others: []Held{primary(8)}, TaskDuration: time.Minute,
			Critical: Critical{End: 10 * time.Minute, Chains: []Chain{{Length: 2 * time.Minute}}, Work: 12 * time.Minute},
		},
		// As above, 4 of the 12 would wait past the patience; but the
		// backlog has started within 90 s and run its chains out 2 min
		// later, and the primary has run all the work left (12 cpu-min)
		// within 90 s, long before the chain of a running task ends.
		wantHold: "held: 12 tasks waiting: backlog drains in 1m30s on held capacity, allocation takes 30s, patience 30s; " +
			"its chains end within 3m30s and held capacity runs all the work left in 1m30s, the longest running chain ends in 10m0s: buying ends nothing sooner",
	}, {
		name: "work that packs past the running chain's end on held capacity is bought for",
		snap: Snapshot{
			Demand: []ebb.Demand{dem(cpus(1), 12)}, Others: []Held{primary(8)}, TaskDuration: time.Minute,
			// As above, but the work behind the running task fans out
			// when it ends and joins again: list-scheduled on the
			// primary, it ends in 12 min, past the chain's 10.
			Critical: Critical{End: 10 * time.Minute, Chains: []Chain{{Length: 2 * time.Minute}}, Work: 12 * time.Minute, Packed: 12 * time.Minute},
		},
		wantAcquire: []ebb.Requirements{req(cpus(1), 4)},
		wantReasons: []string{"backlog drains in 1m30s on held capacity, allocation takes 30s, patience 30s"},
	}, {
		name: "a waiting chain that ends after the running one is bought for",
		snap: Snapshot{
			Demand: []ebb.Demand{dem(cpus(1), 12)}, Others: []Held{primary(8)}, TaskDuration: time.Minute,
			Critical: Critical{End: 3 * time.Minute, Chains: []Chain{{Length: 2 * time.Minute}}},
		},
		wantAcquire: []ebb.Requirements{req(cpus(1), 4)},
		wantReasons: []string{"backlog drains in 1m30s on held capacity, allocation takes 30s, patience 30s"},
	}, {
		name: "work left wider than held capacity runs before the running chain ends is bought for",
		snap: Snapshot{
			Demand: []ebb.Demand{dem(cpus(1), 12)}, Others: []Held{primary(8)}, TaskDuration: time.Minute,
			// Chains short, but 80 cpu-min of work behind them: 10 min
			// on the primary's 8 cpus, past the running chain's end.
			Critical: Critical{End: 5 * time.Minute, Chains: []Chain{{Length: 2 * time.Minute}}, Work: 80 * time.Minute},
		},
		wantAcquire: []ebb.Requirements{req(cpus(1), 4)},
	}, {
		name: "no patience when held capacity cannot run the work left before the running chain ends",
		snap: Snapshot{
			Demand: []ebb.Demand{dem(cpus(1), 12)}, Others: []Held{primary(8)}, TaskDuration: time.Minute,
			Critical: Critical{End: 5 * time.Minute, Chains: []Chain{{Length: 2 * time.Minute}}, Work: 80 * time.Minute, Ranked: true},
		},
		// 80 cpu-min on 8 cpus take 10 min, past the running chain's
		// 5: the flow is wider than what is held, and the 8 tasks that
		// would wait past the latency are bought for, not 4.
		wantAcquire: []ebb.Requirements{req(cpus(1), 8)},
		wantReasons: []string{"backlog drains in 1m30s on held capacity, allocation takes 30s, no patience: held capacity runs the work left in 10m0s, after the longest running chain ends in 5m0s"},
	}, {
		name: "patience from the config holds when the flow is wider than what is held",
		cfg:  DefaultConfig{Patience: 10 * time.Second},
		snap: Snapshot{
			Demand: []ebb.Demand{dem(cpus(1), 12)}, Others: []Held{primary(8)}, TaskDuration: time.Minute,
			Critical: Critical{End: 5 * time.Minute, Chains: []Chain{{Length: 2 * time.Minute}}, Work: 80 * time.Minute, Ranked: true},
		},
		wantAcquire: []ebb.Requirements{req(cpus(1), 7)},
		wantReasons: []string{"allocation takes 30s, patience 10s"},
	}, {
		name: "the longest chain behind a running task starts in its slot when ready tasks start longest first",
		snap: Snapshot{
			Demand: []ebb.Demand{dem(cpus(1), 12)}, Others: []Held{primary(8)}, TaskDuration: time.Minute,
			Critical: Critical{End: 10 * time.Minute, Chains: []Chain{{Length: time.Minute}, {In: time.Minute, Length: 9 * time.Minute}}, Ranked: true},
		},
		// The 9-minute chain starts when the task it waits on ends, in
		// a minute, in that task's slot: it need not wait for the
		// backlog (90 s), and ends with the running chain.
		wantHold: "its chains end within 10m0s and held capacity runs all the work left in 0s, the longest running chain ends in 10m0s: buying ends nothing sooner",
	}, {
		name: "the longest chain behind a running task waits for the backlog when ready tasks start in another order",
		snap: Snapshot{
			Demand: []ebb.Demand{dem(cpus(1), 12)}, Others: []Held{primary(8)}, TaskDuration: time.Minute,
			Critical: Critical{End: 10 * time.Minute, Chains: []Chain{{Length: time.Minute}, {In: time.Minute, Length: 9 * time.Minute}}},
		},
		wantAcquire: []ebb.Requirements{req(cpus(1), 4)},
	}, {
		name: "every chain behind a running task starts in its slot when ready tasks start longest first",
		snap: Snapshot{
			Demand: []ebb.Demand{dem(cpus(1), 12)}, Others: []Held{primary(8)}, TaskDuration: time.Minute,
			Critical: Critical{End: 10 * time.Minute, Chains: []Chain{{In: 10 * time.Second, Length: 9 * time.Minute}, {In: 20 * time.Second, Length: 9*time.Minute + 30*time.Second}}, Ranked: true},
		},
		// The first chain is not the longest, but no task of the
		// second is ready when it starts, in 10 s: it takes the slot
		// of the task it waits on, ahead of the backlog, and ends in
		// 9m10s, not 90 s + 9 min, after the running chain.
		wantHold: "its chains end within 9m50s and held capacity runs all the work left in 0s, the longest running chain ends in 10m0s: buying ends nothing sooner",
	}, {
		name: "no word of chains before any task has finished",
		snap: Snapshot{
			Demand: []ebb.Demand{dem(cpus(1), 12)}, Others: []Held{primary(8)}, Remaining: 30 * time.Second,
			Critical: Critical{End: 10 * time.Minute, Chains: []Chain{{Length: 2 * time.Minute}}},
		},
		wantAcquire: []ebb.Requirements{req(cpus(1), 8)},
	}, {
		name: "what held capacity cannot run is bought however long the running chain",
		snap: Snapshot{
			Demand: []ebb.Demand{dem(cpus(16), 1), dem(cpus(1), 12)}, Others: []Held{primary(8)}, TaskDuration: time.Minute,
			Critical: Critical{End: time.Hour, Chains: []Chain{{Length: 2 * time.Minute}}},
		},
		wantAcquire: []ebb.Requirements{req(cpus(16), 1)},
		wantReasons: []string{"nothing held can run them"},
	}, {
		name: "no patience on the task duration guess",
		snap: Snapshot{Demand: []ebb.Demand{dem(cpus(1), 12)}, Others: []Held{primary(8)}, Remaining: 30 * time.Second},
		// In 30 s, 4 of the 12 start on the primary (its tasks half
		// done): buy for 8.
		wantAcquire: []ebb.Requirements{req(cpus(1), 8)},
		wantReasons: []string{"backlog drains in 1m30s on held capacity, allocation takes 30s"},
	}, {
		name: "before any task ends, tasks just begun free no slot within the latency",
		snap: Snapshot{Demand: []ebb.Demand{dem(cpus(1), 12)}, Others: []Held{primary(8)}},
		// The primary's 8 tasks have just begun (Remaining 0) and are
		// guessed to take 1 min: none of the 12 starts in 30 s.
		wantAcquire: []ebb.Requirements{req(cpus(1), 12)},
		wantReasons: []string{"backlog drains in 2m0s on held capacity, allocation takes 30s"},
	}, {
		name: "patience follows the typical latency",
		snap: Snapshot{
			Demand: []ebb.Demand{dem(cpus(1), 12)}, Others: []Held{primary(8)}, TaskDuration: time.Minute,
			Latency: []time.Duration{5 * time.Second, 5 * time.Second, 5 * time.Second},
		},
		// 5 s plus 20 s of patience (four latencies, less than half a
		// task's minute): 3 start on the primary, buy 9.
		wantAcquire: []ebb.Requirements{req(cpus(1), 9)},
		wantReasons: []string{"allocation takes 5s, patience 20s"},
	}, {
		name:        "patience from the config",
		cfg:         DefaultConfig{Patience: 10 * time.Second},
		snap:        Snapshot{Demand: []ebb.Demand{dem(cpus(1), 12)}, Others: []Held{primary(8)}, TaskDuration: time.Minute},
		wantAcquire: []ebb.Requirements{req(cpus(1), 7)},
	}, {
		name:        "patience does not hold back tasks that nothing held can run",
		snap:        Snapshot{Demand: []ebb.Demand{dem(cpus(16), 1)}, Others: []Held{primary(8)}, TaskDuration: time.Second},
		wantAcquire: []ebb.Requirements{req(cpus(16), 1)},
	}, {
		name: "a drained alloc is no capacity either, and only shapes held capacity can run count as draining",
		cfg:  DefaultConfig{IdleTimeout: time.Minute},
		snap: Snapshot{
			Demand: []ebb.Demand{dem(cpus(8), 1)},
			Held:   []Held{working("a1", 4, 0, time.Hour)},
		},
		wantDrain:   []string{"a1"},
		wantAcquire: []ebb.Requirements{req(cpus(8), 1)},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewDefault(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			s := tc.snap
			s.Now = t0
			p := d.Plan(s)
			var problems []string
			var gotAcquire []ebb.Requirements
			for _, a := range p.Acquire {
				gotAcquire = append(gotAcquire, a.Requirements)
			}
			if !slices.EqualFunc(gotAcquire, tc.wantAcquire, ebb.Requirements.Equal) {
				problems = append(problems, fmt.Sprintf("acquire %v, want %v", gotAcquire, tc.wantAcquire))
			}
			var gotCancel []RequestID
			for _, c := range p.Cancel {
				gotCancel = append(gotCancel, c.ID)
			}
			if !slices.Equal(gotCancel, tc.wantCancel) {
				problems = append(problems, fmt.Sprintf("cancel %v, want %v", gotCancel, tc.wantCancel))
			}
			var gotDrain []string
			for _, d := range p.Drain {
				gotDrain = append(gotDrain, d.AllocID)
			}
			if !slices.Equal(gotDrain, tc.wantDrain) {
				problems = append(problems, fmt.Sprintf("drain %v, want %v", gotDrain, tc.wantDrain))
			}
			switch {
			case tc.wantHold == "" && p.Hold != "":
				problems = append(problems, fmt.Sprintf("hold %q, want none", p.Hold))
			case !strings.Contains(p.Hold, tc.wantHold):
				problems = append(problems, fmt.Sprintf("hold %q, want it to say %q", p.Hold, tc.wantHold))
			}
			all := formatPlan(p)
			for _, r := range tc.wantReasons {
				if !strings.Contains(all, r) {
					problems = append(problems, fmt.Sprintf("no reason says %q", r))
				}
			}
			if len(problems) > 0 {
				t.Errorf("%s\nsnapshot:\n%splan:\n%s", strings.Join(problems, "\n"), formatSnapshot(s), all)
			}
		})
	}
}

// BenchmarkDefaultPlan plans for a burst on 10,000 alike allocs held and
// 1,000 alike requests in flight, as a big simulation does at every
// tick.
func BenchmarkDefaultPlan(b *testing.B) {
	d, _ := NewDefault(DefaultConfig{MaxAllocs: 20_000, MaxPending: 2_000})
	node := shape(8, 32)
	s := Snapshot{Now: t0, Demand: []ebb.Demand{dem(shape(1, 2), 100_000)}, TaskDuration: time.Minute}
	for i := range 10_000 {
		s.Held = append(s.Held, Held{ID: fmt.Sprintf("a%d", i), Resources: node, Free: ebb.Resources{}, Busy: node,
			Running: 8, Working: true, Since: t0.Add(-time.Hour)})
	}
	unit := shape(1, 2)
	for i := range 1_000 {
		s.Pending = append(s.Pending, Pending{ID: RequestID(fmt.Sprintf("r%d", i)), Requirements: req(unit, 16), Since: t0.Add(-time.Second)})
	}
	b.Run("one map", func(b *testing.B) {
		for b.Loop() {
			d.Plan(s)
		}
	})
	// Allocs whose Resources are maps of their own, as a Stealer's are.
	for i := range s.Held {
		s.Held[i].Resources = node.Clone()
	}
	b.Run("a map each", func(b *testing.B) {
		for b.Loop() {
			d.Plan(s)
		}
	})
}
