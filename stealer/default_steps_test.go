package stealer

import (
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
)

// Each step of the default policy, alone.

func TestDefaultDrainIdle(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{IdleTimeout: time.Minute, MaxWiden: 1})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := Snapshot{Now: now, Held: []Held{
		{ID: "idle", Working: true, IdleSince: now.Add(-time.Minute)},
		{ID: "fresh", Working: true, IdleSince: now.Add(-time.Second)},
		{ID: "busy", Working: true, Running: 1},
		{ID: "draining", Working: true, Draining: true, IdleSince: now.Add(-time.Hour)},
		{ID: "starting", IdleSince: now.Add(-time.Hour)},
	}}
	got := d.drainIdle(s, time.Second)
	if len(got) != 1 || got[0].AllocID != "idle" || !strings.Contains(got[0].Reason, "idle timeout 1m0s") {
		t.Errorf("drainIdle = %+v, want the idle alloc alone, with its timeout", got)
	}
}

func TestDefaultCreditPending(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := Snapshot{
		Now:    now,
		Demand: []ebb.Demand{{Resources: cpus(1), Count: 10}},
		Held:   []Held{{ID: "new", Resources: cpus(2), Free: cpus(2)}}, // takes 2
		Pending: []Pending{
			{ID: "old", Requirements: req(cpus(1), 4), Since: now.Add(-time.Minute)}, // takes 4
			{ID: "older", Requirements: req(cpus(1), 3), Since: now.Add(-time.Hour)}, // takes 3 first
			{ID: "gpu", Requirements: req(ebb.Resources{ebb.GPU: 1}, 1), Since: now}, // no task fits it
		},
	}
	c := d.creditPending(s, nil, nil)
	if c.starting != 1 || c.kept != 2 || tasks(c.backlog) != 1 {
		t.Errorf("credited %+v, want 1 starting, 2 kept, 1 task of backlog", c)
	}
	if len(c.cancel) != 1 || c.cancel[0].ID != "gpu" {
		t.Errorf("cancels %+v, want the request that covers nothing", c.cancel)
	}
}

func TestDefaultToBuy(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{})
	held := []Held{{ID: "p", Resources: cpus(4), Working: true}}
	s := Snapshot{Others: held, TaskDuration: 10 * time.Second}
	// Four slots: 8 tasks of 10 s start within 20 s, before an alloc
	// arrives (30 s): nothing to buy.
	if b := d.toBuy(s, []group{{shape: cpus(1), count: 8}}, nil, 30*time.Second); len(b.buy) != 0 {
		t.Errorf("bought %v for a backlog that starts before an alloc comes", b.buy)
	}
	// A shape nothing held can run is bought whole.
	b := d.toBuy(s, []group{{shape: cpus(8), count: 2}}, nil, 30*time.Second)
	if len(b.buy) != 1 || b.buy[0].count != 2 || b.runnable[cpus(8).String()] {
		t.Errorf("toBuy = %+v, want both 8-cpu tasks bought, not runnable", b)
	}
	// A long backlog: only what would still wait after latency and
	// patience (4 × 30 s, but at most half a task's 10 s) is bought:
	// 35 s × 4 slots / 10 s = 14 start.
	b = d.toBuy(s, []group{{shape: cpus(1), count: 100}}, nil, 30*time.Second)
	if len(b.buy) != 1 || b.buy[0].count != 86 {
		t.Errorf("toBuy = %+v, want 86 of 100 bought", b.buy)
	}
}

func TestDefaultRequests(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{MaxPending: 2, MaxWidth: 4})
	b := purchase{buy: []group{{shape: cpus(1), count: 20}}, why: "why", runnable: map[string]bool{cpus(1).String(): true}}
	reqs, hold := d.requests(Snapshot{}, b, 1)
	if len(reqs) != 1 || reqs[0].Requirements.Width != 4 || !strings.HasSuffix(reqs[0].Reason, ": why") {
		t.Errorf("requests = %+v, want one of width 4 (one more kept in flight, MaxPending 2)", reqs)
	}
	if want := "held: 16 tasks more would be bought, but 2 requests in flight (MaxPending 2)"; hold != want {
		t.Errorf("hold %q, want %q", hold, want)
	}
}

// A grant smaller than its request asked for is evidence of the
// cluster's cut; a grant of all it asked for is not.
func TestGrantCap(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	acq := func(at time.Duration, got, asked ebb.Resources) Change {
		return Change{Time: now.Add(at), Kind: Acquired, Resources: got, Asked: asked}
	}
	for _, c := range []struct {
		name   string
		recent []Change
		want   ebb.Resources
	}{
		{"none", nil, nil},
		{"all asked", []Change{acq(0, cpus(16), cpus(16))}, nil},
		{"cut once", []Change{acq(0, cpus(8), cpus(16))}, cpus(8)},
		{"largest cut", []Change{acq(0, cpus(4), cpus(16)), acq(time.Second, cpus(8), cpus(16))}, cpus(8)},
		{"alike, asks unknown", []Change{acq(0, cpus(8), nil), acq(0, cpus(8), nil)}, cpus(8)},
		{"one, ask unknown", []Change{acq(0, cpus(8), nil)}, nil},
	} {
		got := grantCap(Snapshot{Recent: c.recent})
		if !got.Equal(c.want) || (got == nil) != (c.want == nil) {
			t.Errorf("%s: grantCap = %v, want %v", c.name, got, c.want)
		}
	}
}

// Told what its nodes hold (Snapshot.Nodes), the policy asks for no more
// than the roomiest node holds: a wider request would be cut to a node a
// boot later.
func TestDefaultRequestsWithinNodes(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{})
	s := Snapshot{Demand: []ebb.Demand{dem(cpus(1), 40)}, Nodes: []ebb.Resources{cpus(4), cpus(8)}}
	p := d.Plan(s)
	if len(p.Acquire) != 5 {
		t.Fatalf("%d requests for 40 one-cpu tasks on nodes of at most 8 cpu, want 5:\n%s", len(p.Acquire), formatPlan(p))
	}
	for _, r := range p.Acquire {
		if r.Requirements.Width != 8 {
			t.Errorf("request %v, want 8 units", r.Requirements)
		}
	}
	// Without nodes, MaxWidth (16) bounds a request.
	if p := d.Plan(Snapshot{Demand: s.Demand}); len(p.Acquire) != 3 || p.Acquire[0].Requirements.Width != 16 {
		t.Errorf("without nodes: %s, want 3 requests of 16 units", formatPlan(p))
	}
}

// Before any task has finished, the running ones are taken to run the
// configured guess: eight that have just begun (Remaining 0, half their
// age of 0) free no slot for a minute, so none of 14 waiting tasks starts
// within the 30 s an alloc takes, and all 14 are bought. Eight that have
// run 50 s on average (Remaining 25 s) free their slots about when an
// alloc would come, and the 4 that start within the latency at the rate
// of 8 slots a minute are not bought.
func TestDefaultToBuyBeforeAnyTaskEnds(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{TaskDuration: time.Minute})
	s := Snapshot{Others: []Held{primary(8)}}
	backlog := []group{{shape: cpus(1), count: 14}}
	if b := d.toBuy(s, backlog, nil, 30*time.Second); tasks(b.buy) != 14 {
		t.Errorf("8 tasks just begun, nothing finished: bought for %d of 14, want 14 (%s)", tasks(b.buy), b.why)
	}
	s.Remaining = 25 * time.Second
	if b := d.toBuy(s, backlog, nil, 30*time.Second); tasks(b.buy) != 10 {
		t.Errorf("8 tasks 50 s along, nothing finished: bought for %d of 14, want 10 (%s)", tasks(b.buy), b.why)
	}
}

// Once every kind's duration is known, held capacity frees its slots when
// its running tasks are expected to end: 8 tasks of 52 s that have just
// begun (Remaining 52 s) start none of 14 waiting ones within the 30 s
// an alloc takes, and all 14 are bought. Without that knowledge the
// wait is only the drain time's, and the rate counts 4 as started.
func TestDefaultToBuyWhenEveryDurationIsKnown(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{Patience: time.Nanosecond})
	s := Snapshot{Others: []Held{primary(8)}, TaskDuration: 52 * time.Second, Remaining: 52 * time.Second,
		Critical: Critical{End: 4 * time.Minute, Ranked: true}}
	backlog := []group{{shape: cpus(1), count: 14, dur: 52 * time.Second}}
	if b := d.toBuy(s, backlog, nil, 30*time.Second); tasks(b.buy) != 14 {
		t.Errorf("8 tasks just begun, durations known: bought for %d of 14, want 14 (%s)", tasks(b.buy), b.why)
	}
	s.Critical.Ranked = false
	if b := d.toBuy(s, backlog, nil, 30*time.Second); tasks(b.buy) != 10 {
		t.Errorf("8 tasks just begun, a kind unknown: bought for %d of 14, want 10 (%s)", tasks(b.buy), b.why)
	}
}

// Tasks of a kind just begun (running, none finished) that outnumber
// held capacity's slots are watched for a 16th of the latency before
// they are bought for on the guess: a purchase for tasks that take a
// second costs a boot each, cancelled. After that, for fewer tasks than
// the slots, for tasks that nothing held runs, and when the policy is
// not asked again within the watch (Snapshot.Tick: a hold lasts that
// long), the guess buys.
func TestDefaultWatchesKindsJustBegun(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{TaskDuration: time.Minute})
	latency := 32 * time.Second
	justBegun := []group{{shape: cpus(1), count: 14, bound: true}}
	for _, c := range []struct {
		name    string
		tick    time.Duration
		backlog []group
		want    int
	}{
		{"just begun", time.Second, justBegun, 0},
		{"run a second", time.Second, []group{{shape: cpus(1), count: 14, dur: time.Second, bound: true}}, 0},
		{"run two seconds", time.Second, []group{{shape: cpus(1), count: 14, dur: 2 * time.Second, bound: true}}, 14},
		{"nothing tells", time.Second, []group{{shape: cpus(1), count: 14}}, 14},
		{"fewer than the slots", time.Second, []group{{shape: cpus(1), count: 4, bound: true}}, 4},
		{"too wide for held capacity", time.Second, []group{{shape: cpus(16), count: 1, bound: true}}, 1},
		{"asked again past the watch", 3 * time.Second, justBegun, 14},
		{"tick unknown", 0, justBegun, 14},
	} {
		s := Snapshot{Others: []Held{primary(8)}, Tick: c.tick}
		b := d.toBuy(s, c.backlog, nil, latency)
		if got := tasks(b.buy); got != c.want {
			t.Errorf("%s: bought for %d of the backlog, want %d (%s)", c.name, got, c.want, b.why)
		}
		if c.want == 0 && !strings.Contains(b.why, "14 tasks of kinds just begun wait 2s") {
			t.Errorf("%s: reason %q does not say the tasks are watched", c.name, b.why)
		}
	}
}

// A task of a kind that runs, none of it finished, waits for the slots
// its kind holds: those running are taken to run as long as it is (at
// least the guess), not as the shorter kinds seen to finish say, and the
// slots they hold free no sooner.
func TestDefaultWaitsOnItsOwnKind(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{TaskDuration: time.Minute})
	p := primary(8) // eight tasks of the kind run
	// Other kinds ran half a second; Remaining, half the running
	// tasks' age again, says a second.
	s := Snapshot{Others: []Held{p}, TaskDuration: 500 * time.Millisecond, Remaining: time.Second, Tick: time.Second}
	for _, c := range []struct {
		name string
		age  time.Duration
		want int
	}{
		// Eight of its kind have run 2 s: they end in 58 s by the
		// guess, past the latency; the ninth is bought for.
		{"run two seconds", 2 * time.Second, 1},
		// Run 50 s: they end in 10 s, and the ninth starts then.
		{"run fifty seconds", 50 * time.Second, 0},
	} {
		b := d.toBuy(s, []group{{shape: cpus(1), count: 1, dur: c.age, bound: true}}, nil, 30*time.Second)
		if got := tasks(b.buy); got != c.want {
			t.Errorf("%s: bought for %d, want %d (%s)", c.name, got, c.want, b.why)
		}
	}
}
