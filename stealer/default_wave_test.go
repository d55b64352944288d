package stealer

import (
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
)

// upcoming is n one-cpu tasks of 30 s, ready in in.
func upcoming(n int, in time.Duration, untimed bool) Upcoming {
	return Upcoming{Demand: ebb.Demand{Resources: cpus(1), Count: n, Duration: 30 * time.Second}, In: in, Untimed: untimed}
}

// likelyIn is n one-cpu tasks of 30 s, untimed (ready no sooner than
// now), likely ready in likely.
func likelyIn(n int, likely time.Duration) Upcoming {
	u := upcoming(n, 0, true)
	u.Likely = likely
	return u
}

func drained(p Plan, id string) bool {
	for _, d := range p.Drain {
		if d.AllocID == id {
			return true
		}
	}
	return false
}

// A serial gather runs on the primary while the stealer's allocs idle
// past their timeout; 64 tasks wait on it.
func gatherSnapshot(up ...Upcoming) Snapshot {
	p := primary(8)
	p.Running, p.Busy, p.Free = 1, cpus(1), cpus(7)
	return Snapshot{
		Now:          t0,
		Others:       []Held{p},
		Held:         []Held{working("a1", 8, 0, 2*time.Minute), working("a2", 8, 0, 2*time.Minute)},
		Latency:      []time.Duration{time.Minute},
		TaskDuration: 30 * time.Second,
		Upcoming:     up,
	}
}

func TestDefaultKeepsIdleAllocsForTheNextWave(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{IdleTimeout: time.Minute, MaxWiden: 1})
	// Without a next wave, both idle allocs go.
	if p := d.Plan(gatherSnapshot()); !drained(p, "a1") || !drained(p, "a2") {
		t.Errorf("no upcoming work: plan %s, want both idle allocs drained", formatPlan(p))
	}
	// 64 tasks ready in 20 s, before a new alloc could come (1 min):
	// both are kept, and nothing is bought.
	if p := d.Plan(gatherSnapshot(upcoming(64, 20*time.Second, false))); len(p.Drain) != 0 || len(p.Acquire) != 0 {
		t.Errorf("64 tasks upcoming in 20 s: plan %s, want both allocs kept and nothing bought", formatPlan(p))
	}
	// 32 tasks: the primary's 7 free cpus take 7 when they come, and
	// the idle allocs the rest: both are kept (the primary's slots that
	// free up later go to the tasks that the wave makes ready in turn),
	// and nothing is bought.
	if p := d.Plan(gatherSnapshot(upcoming(32, 20*time.Second, false))); len(p.Drain) != 0 || len(p.Acquire) != 0 {
		t.Errorf("32 tasks upcoming in 20 s: plan %s, want both allocs kept and nothing bought", formatPlan(p))
	}
	// 10 tasks: 7 on the primary, 3 on one alloc; the other goes.
	if p := d.Plan(gatherSnapshot(upcoming(10, 20*time.Second, false))); len(p.Drain) != 1 || !drained(p, "a2") {
		t.Errorf("10 tasks upcoming in 20 s: plan %s, want a1 kept and a2 drained", formatPlan(p))
	}
	// 7 tasks: the primary's free cpus take them all; both go.
	if p := d.Plan(gatherSnapshot(upcoming(7, 20*time.Second, false))); len(p.Drain) != 2 {
		t.Errorf("7 tasks upcoming in 20 s: plan %s, want both drained", formatPlan(p))
	}
	// Ready in an hour: released now, bought again nearer the time.
	if p := d.Plan(gatherSnapshot(upcoming(64, time.Hour, false))); len(p.Drain) != 2 {
		t.Errorf("64 tasks upcoming in an hour: plan %s, want both allocs drained", formatPlan(p))
	}
	// Ready a little after an alloc would come (within the re-buy
	// window, here twice the 1 min idle timeout, past the latency):
	// kept, as buying them back so soon is thrashing.
	if p := d.Plan(gatherSnapshot(upcoming(64, 2*time.Minute, false))); len(p.Drain) != 0 {
		t.Errorf("64 tasks upcoming in 2 min: plan %s, want both allocs kept", formatPlan(p))
	}
}

// Tasks due one after another within the latency, each done before the
// next is ready, need one slot between them: only what would run at once
// keeps idle allocs. The same tasks due together keep one alloc each.
func TestDefaultKeepsForWhatTheNextWaveRunsAtOnce(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{IdleTimeout: time.Minute, MaxWiden: 1})
	// Eight-cpu tasks of 10 s, so that each needs an alloc of its own
	// (the primary has 7 cpus free).
	wide := func(in time.Duration) Upcoming {
		return Upcoming{Demand: ebb.Demand{Resources: cpus(8), Count: 1, Duration: 10 * time.Second}, In: in}
	}
	if p := d.Plan(gatherSnapshot(wide(10*time.Second), wide(30*time.Second), wide(50*time.Second))); len(p.Drain) != 1 {
		t.Errorf("three 10 s tasks due 20 s apart: plan %s, want one alloc kept and one drained", formatPlan(p))
	}
	if p := d.Plan(gatherSnapshot(wide(10*time.Second), wide(15*time.Second), wide(50*time.Second))); len(p.Drain) != 0 {
		t.Errorf("two of three 10 s tasks due 5 s apart: plan %s, want both allocs kept", formatPlan(p))
	}
	// A task that heads a chain holds its slot for the chain too.
	first := wide(10 * time.Second)
	first.Chain = time.Minute
	if p := d.Plan(gatherSnapshot(first, wide(30*time.Second))); len(p.Drain) != 0 {
		t.Errorf("a task heading a 1 min chain, another due 20 s later: plan %s, want both allocs kept", formatPlan(p))
	}
	// A task whose duration is only a lower bound may still run when
	// the next comes.
	first = wide(10 * time.Second)
	first.AtLeast = true
	if p := d.Plan(gatherSnapshot(first, wide(50*time.Second))); len(p.Drain) != 0 {
		t.Errorf("a task of 10 s at least, another due 40 s later: plan %s, want both allocs kept", formatPlan(p))
	}
}

// An untimed wave keeps the idle allocs it fits on until they have been
// idle twice the latency: buying one back costs its boot and the wave's
// wait for it, a latency each.
func TestDefaultKeepsForUntimedWaveUpToTwiceTheLatency(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{IdleTimeout: 5 * time.Second, MaxWiden: 1})
	s := gatherSnapshot(upcoming(64, 10*time.Second, true))
	s.Held = []Held{working("young", 8, 0, 30*time.Second), working("idle90s", 8, 0, 90*time.Second), working("old", 8, 0, 2*time.Minute)}
	p := d.Plan(s)
	if drained(p, "young") || drained(p, "idle90s") || !drained(p, "old") {
		t.Errorf("untimed wave: plan %s, want the allocs idle 30 s and 90 s kept and the one idle twice the 1 min latency drained", formatPlan(p))
	}
	// However late it is likely to come.
	s.Upcoming = []Upcoming{likelyIn(64, 5*time.Minute)}
	if p := d.Plan(s); drained(p, "idle90s") || !drained(p, "old") {
		t.Errorf("untimed wave likely in 5 min: plan %s, want the alloc idle 90 s kept and the one idle 2 min drained", formatPlan(p))
	}
	// An untimed wave is no reason to buy.
	s.Held = nil
	if p := d.Plan(s); len(p.Acquire) != 0 {
		t.Errorf("untimed wave, nothing held: plan %s, want nothing bought", formatPlan(p))
	}
}

// Once every kind's duration is known, an untimed wave likely due
// within the latency is bought ahead like a timed one: what it waits on
// is timed by known durations, only its start is not. One likely due
// past the latency, or while some kind is unknown, buys nothing.
func TestDefaultBuysAheadOfAnUntimedWaveOnceDurationsAreKnown(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{})
	s := gatherSnapshot(likelyIn(64, 20*time.Second))
	s.Held = nil
	s.Critical = Critical{End: 30 * time.Second, Ranked: true}
	if p := d.Plan(s); len(p.Acquire) == 0 {
		t.Errorf("untimed wave likely in 20 s, every duration known: plan %s, want it bought ahead", formatPlan(p))
	}
	s.Critical.Ranked = false
	if p := d.Plan(s); len(p.Acquire) != 0 {
		t.Errorf("untimed wave likely in 20 s, a kind unknown: plan %s, want nothing bought", formatPlan(p))
	}
	s.Upcoming = []Upcoming{likelyIn(64, 10*time.Minute)}
	s.Critical.Ranked = true
	if p := d.Plan(s); len(p.Acquire) != 0 {
		t.Errorf("untimed wave likely in 10 min: plan %s, want nothing bought", formatPlan(p))
	}
}

func TestDefaultBuysAheadOfTheNextWave(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{})
	s := gatherSnapshot(upcoming(64, 20*time.Second, false))
	s.Held = nil
	p := d.Plan(s)
	if len(p.Acquire) == 0 {
		t.Fatalf("64 tasks upcoming in 20 s, nothing held: plan %s, want allocs bought ahead", formatPlan(p))
	}
	// Bought ahead, the requests stay while the wave is still to come.
	s.Pending = nil
	for i, r := range p.Acquire {
		s.Pending = append(s.Pending, Pending{ID: RequestID(rune('a' + i)), Requirements: r.Requirements, Since: t0, For: r.For})
	}
	s.Now = t0.Add(time.Second)
	if p := d.Plan(s); len(p.Cancel) != 0 || len(p.Acquire) != 0 {
		t.Errorf("a second later: plan %s, want the requests kept and nothing more", formatPlan(p))
	}
	// Far off: nothing bought yet.
	s = gatherSnapshot(upcoming(64, 10*time.Minute, false))
	s.Held = nil
	if p := d.Plan(s); len(p.Acquire) != 0 {
		t.Errorf("64 tasks upcoming in 10 min: plan %s, want nothing bought yet", formatPlan(p))
	}
}

// An idle alloc takes the next wave before a request in flight does: it
// is here now, the request a latency later. The request, left without
// demand, is cancelled.
func TestDefaultIdleAllocTakesTheNextWaveBeforeARequest(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{IdleTimeout: time.Minute, MaxWiden: 1})
	s := gatherSnapshot(upcoming(15, 20*time.Second, false))
	s.Held = []Held{working("a1", 8, 0, 2*time.Minute)}
	s.Pending = []Pending{{ID: "r1", Requirements: req(cpus(1), 8), Since: t0.Add(-10 * time.Second)}}
	p := d.Plan(s)
	if drained(p, "a1") {
		t.Errorf("8 tasks upcoming in 20 s beside the primary's 7 free cpus, request r1 in flight: plan %s, want a1 kept for them", formatPlan(p))
	}
	if len(p.Cancel) != 1 || p.Cancel[0].ID != "r1" {
		t.Errorf("plan %s, want r1 cancelled: a1 takes the wave", formatPlan(p))
	}
}

// Work whose moment is unknown keeps the young idle allocs that it would
// buy back when it comes, when its durations are known: held capacity,
// its running tasks done by then, may run it soon enough, or not, each
// task holding its slot for the chain it heads too. Work of durations
// unknown keeps each young alloc it fits on beside the free capacity of
// busy allocs, however fast it may run. Work due only past the horizon
// keeps nothing.
func TestDefaultUntimedWaveKeepsWhatItWouldBuyBack(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{IdleTimeout: 5 * time.Second, MaxWiden: 1})
	s := gatherSnapshot()
	s.Held = []Held{working("young1", 8, 0, 30*time.Second), working("young2", 8, 0, 30*time.Second)}
	chained := upcoming(12, 2*time.Second, true)
	chained.Chain = 5 * time.Minute
	unknown := upcoming(12, 2*time.Second, true)
	unknown.Duration = 0
	behind := upcoming(12, 2*time.Second, true)
	behind.Likely = 10 * time.Minute
	for _, tc := range []struct {
		name         string
		up           Upcoming
		remaining    time.Duration // Snapshot.Remaining
		keep1, keep2 bool
	}{
		// 12 tasks of 30 s start within the minute's latency on the
		// primary's 8 cpus: neither alloc would be bought back.
		{"12 tasks of 30 s", upcoming(12, 2*time.Second, true), 0, false, false},
		// Nor when the task they wait on has 10 min to run, every
		// kind's duration known (Critical.Ranked: the backlog waits
		// for running tasks' slots): they come when it ends.
		{"12 tasks of 30 s behind a task with 10 min left", behind, 10 * time.Minute, false, false},
		// 64 take 4 min there: both would be.
		{"64 tasks of 30 s", upcoming(64, 2*time.Second, true), 0, true, true},
		// 12 heading chains of 5 min hold the primary's slots 5 min more.
		{"12 tasks heading chains of 5 min", chained, 0, true, true},
		// Durations unknown: the primary's 7 free cpus take 7, young1
		// the other 5.
		{"12 tasks of durations unknown", unknown, 0, true, false},
	} {
		s.Upcoming, s.Remaining = []Upcoming{tc.up}, tc.remaining
		s.Critical.Ranked = tc.remaining > 0
		p := d.Plan(s)
		if drained(p, "young1") == tc.keep1 || drained(p, "young2") == tc.keep2 {
			t.Errorf("%s, untimed: plan %s, want young1 kept %v, young2 kept %v", tc.name, formatPlan(p), tc.keep1, tc.keep2)
		}
		if len(p.Acquire) != 0 {
			t.Errorf("%s, untimed: plan %s, want nothing bought", tc.name, formatPlan(p))
		}
	}
	// Untimed, but not before 10 min (a lower bound): nothing kept.
	s.Upcoming, s.Remaining, s.Critical.Ranked = []Upcoming{upcoming(64, 10*time.Minute, true)}, 0, false
	if p := d.Plan(s); !drained(p, "young1") || !drained(p, "young2") {
		t.Errorf("64 untimed tasks no sooner than 10 min: plan %s, want both drained", formatPlan(p))
	}
}

// A wave's In is a guess made of estimates (a gather, then a model
// step, then the wave) that moves by seconds between snapshots. With the
// default idle timeout of 2 s and a minute's latency, a wave due in 66 s
// is 6 s past the latency: released now, its allocs would be bought back
// ahead of it within seconds, which the policy itself counts as a re-buy
// (an acquisition less than the latency after a release). So the young
// idle allocs it fits on are kept, timed or not; a wave past the latency
// by more than that window keeps nothing.
func TestDefaultKeepsForAWaveDueWithinTheRebuyWindow(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{})
	for _, untimed := range []bool{false, true} {
		s := gatherSnapshot(upcoming(64, 66*time.Second, untimed))
		s.Held = []Held{working("a1", 8, 0, 10*time.Second), working("a2", 8, 0, 10*time.Second)}
		if p := d.Plan(s); drained(p, "a1") || drained(p, "a2") {
			t.Errorf("64 tasks (untimed %v) due in 66 s, latency 1 min, idle timeout 2 s: plan %s, want both allocs kept",
				untimed, formatPlan(p))
		}
		s.Upcoming = []Upcoming{upcoming(64, 2*time.Minute+time.Second, untimed)}
		if p := d.Plan(s); !drained(p, "a1") || !drained(p, "a2") {
			t.Errorf("64 tasks (untimed %v) due in 2m1s, past the latency and its re-buy window: plan %s, want both drained",
				untimed, formatPlan(p))
		}
	}
}

// While the work left packs past the longest running chain's end on
// what is held (Critical.Packed), the flow needs more than is held: an
// idle alloc that work due within the horizon fits on is kept, though
// held capacity would start that work soon enough once it comes.
func TestDefaultKeepsWhileTheWorkPacksPastTheEnd(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{IdleTimeout: time.Minute, MaxWiden: 1})
	s := gatherSnapshot(upcoming(10, 2*time.Minute, false))
	// Ten tasks of 30 s in 2 min: the primary starts them within the
	// latency of their coming; both idle allocs go.
	if p := d.Plan(s); !drained(p, "a1") || !drained(p, "a2") {
		t.Errorf("10 tasks upcoming in 2 min: plan %s, want both idle allocs drained", formatPlan(p))
	}
	s.Critical = Critical{End: 3 * time.Minute, Packed: 3 * time.Minute, Ranked: true}
	if p := d.Plan(s); !drained(p, "a1") || !drained(p, "a2") {
		t.Errorf("the work packs by the end on what is held: plan %s, want both idle allocs drained", formatPlan(p))
	}
	// Packed past the end: every cpu held has work to come, so the
	// primary's 7 free cpus are not counted on; the ten keep a1 (8) and
	// a2 (2).
	s.Critical.Packed = 4 * time.Minute
	if p := d.Plan(s); len(p.Drain) != 0 {
		t.Errorf("the work packs past the end on what is held: plan %s, want a1 and a2 kept", formatPlan(p))
	}
	// Five keep a1 only.
	s.Upcoming = []Upcoming{upcoming(5, 2*time.Minute, false)}
	if p := d.Plan(s); drained(p, "a1") || !drained(p, "a2") {
		t.Errorf("packed past the end, 5 tasks upcoming in 2 min: plan %s, want a1 kept and a2 drained", formatPlan(p))
	}
	// Seven due within the latency, which the primary's free cpus take
	// when they come (both idle allocs go while the work packs by the
	// end, see TestDefaultKeepsIdleAllocsForTheNextWave), keep a1 while
	// it packs past it: their chains, and the work behind, come for
	// those cpus.
	s.Upcoming = []Upcoming{upcoming(7, 20*time.Second, false)}
	if p := d.Plan(s); drained(p, "a1") || !drained(p, "a2") || len(p.Acquire) != 0 {
		t.Errorf("packed past the end, 7 tasks upcoming in 20 s: plan %s, want a1 kept, a2 drained, nothing bought", formatPlan(p))
	}
	// Due past the horizon: nothing kept.
	s.Upcoming = []Upcoming{upcoming(10, time.Hour, false)}
	if p := d.Plan(s); !drained(p, "a1") || !drained(p, "a2") {
		t.Errorf("packed past the end, 10 tasks upcoming in an hour: plan %s, want both idle allocs drained", formatPlan(p))
	}
}

// A request in flight is kept for untimed work likely due before it
// comes, though such work buys nothing: cancelled, it would be asked for
// again when the work is ready, a latency later. Work likely due long
// after it comes keeps nothing.
func TestDefaultKeepsARequestForAnUntimedWaveLikelySoon(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{})
	s := gatherSnapshot(likelyIn(8, 10*time.Second))
	s.Held = nil
	s.Pending = []Pending{pending("r1", req(cpus(1), 8), 20*time.Second)}
	if p := d.Plan(s); len(p.Cancel) != 0 || len(p.Acquire) != 0 {
		t.Errorf("untimed wave likely in 10 s, a request in flight: plan %s, want it kept and nothing bought", formatPlan(p))
	}
	s.Upcoming = []Upcoming{likelyIn(8, 10*time.Minute)}
	if p := d.Plan(s); len(p.Cancel) != 1 {
		t.Errorf("untimed wave likely in 10 min: plan %s, want the request cancelled", formatPlan(p))
	}
}

// Work whose mean puts it past the horizon, but which may come within
// it (Upcoming.Soon), keeps the idle allocs it fits on until they have
// been idle twice the latency, as untimed work does: released, they are
// bought back when a split ends early.
func TestDefaultKeepsForAWaveThatMayComeSoon(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{})
	far := upcoming(64, 5*time.Minute, false)
	soon := far
	soon.Soon = 5 * time.Second
	s := gatherSnapshot(soon)
	s.Held = []Held{working("a1", 8, 0, 10*time.Second), working("a2", 8, 0, 10*time.Second)}
	p := d.Plan(s)
	if drained(p, "a1") || drained(p, "a2") || len(p.Acquire) != 0 {
		t.Fatalf("64 tasks in 5 min, maybe in 5 s, latency 1 min: plan %s, want both allocs kept and nothing bought", formatPlan(p))
	}
	if len(p.Keep) != 2 || !strings.Contains(p.Keep[0].Reason, "one time in four") {
		t.Errorf("keeps %+v, want both kept for work that may be ready soon", p.Keep)
	}
	// Only the mean: past the horizon, nothing kept.
	s.Upcoming = []Upcoming{far}
	if p := d.Plan(s); !drained(p, "a1") || !drained(p, "a2") {
		t.Errorf("64 tasks in 5 min at the soonest: plan %s, want both drained", formatPlan(p))
	}
	// Idle twice the latency: the bet is lost, both go.
	s.Upcoming = []Upcoming{soon}
	s.Held = []Held{working("a1", 8, 0, 2*time.Minute), working("a2", 8, 0, 2*time.Minute)}
	if p := d.Plan(s); !drained(p, "a1") || !drained(p, "a2") {
		t.Errorf("64 tasks maybe in 5 s, allocs idle 2 min: plan %s, want both drained", formatPlan(p))
	}
}
