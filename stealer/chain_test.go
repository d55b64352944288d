package stealer

import (
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
)

// chainFlow is a lane-split flow: heads ready tasks of kind "filter",
// each the head of a chain convert → index → align (each step depends on
// the one before alone), the aligns gathered by one merge. fanned more
// ready filters have two dependents each: a fan-out, no chain.
func chainFlow(heads, fanned int) *dag {
	g := &dag{kinds: []string{"filter", "convert", "index", "align", "merge"}, done: map[int32]bool{}}
	var ends []int32
	for range heads {
		f := g.add(0)
		g.ready = append(g.ready, f)
		c := g.add(1, f)
		i := g.add(2, c)
		ends = append(ends, g.add(3, i))
	}
	for range fanned {
		f := g.add(0)
		g.ready = append(g.ready, f)
		ends = append(ends, g.add(1, f), g.add(1, f))
	}
	g.add(4, ends...)
	return g
}

func chainDurations() *Durations {
	var d Durations
	for range 3 {
		d.Observe("filter", 7*time.Second)
		d.Observe("convert", 10*time.Second)
		d.Observe("index", 20*time.Second)
		d.Observe("align", 40*time.Second)
		d.Observe("merge", time.Minute)
	}
	return &d
}

// Each ready task that heads a chain reports its chain's work, by the
// shape of the heads: the steps run in its slot, so they ask for no new
// capacity, but hold the slot 70 s more. A fan-out heads no chain, and
// the merge (a fan-in) ends every chain.
func TestNextWaveReportsChainsBehindReadyTasks(t *testing.T) {
	d := chainDurations()
	g := chainFlow(5, 2)
	w, _ := g.wave()
	var chains []Upcoming
	for _, u := range d.NextWave(w) {
		if u.Follows {
			chains = append(chains, u)
		}
	}
	if len(chains) != 1 {
		t.Fatalf("NextWave chains = %+v, want one entry for the one-cpu heads", chains)
	}
	c := chains[0]
	if c.Count != 5 || c.Duration != 70*time.Second || !c.Resources.Equal(cpus(1)) || !c.Untimed || c.In != 0 {
		t.Errorf("NextWave chains = %+v, want 5 one-cpu heads with 70 s of chain each, untimed", c)
	}

	// A step that needs more than its head's slot needs a slot of its
	// own: the chain ends before it.
	g.res = func(i int32) ebb.Resources {
		if g.kind[i] == 2 {
			return cpus(4)
		}
		return cpus(1)
	}
	w, _ = g.wave()
	for _, u := range d.NextWave(w) {
		if u.Follows && (u.Count != 5 || u.Duration != 10*time.Second) {
			t.Errorf("NextWave chain with a four-cpu index step = %+v, want 5 heads with the 10 s convert only", u)
		}
	}
}

// Ready filters wait for the primary's busy slots. By their own 7 s the
// backlog drains before a new alloc comes (90 s), but each filter holds
// its slot for its chain's 70 s more: the policy buys. The policy reads
// what NextWave says, as the runner and the simulator hand it on.
func TestDefaultBuysForTheChainsBehindReadyTasks(t *testing.T) {
	d := chainDurations()
	g := chainFlow(48, 0)
	w, _ := g.wave()
	p := primary(8)
	p.Running, p.Busy, p.Free = 8, cpus(8), ebb.Resources{}
	s := Snapshot{
		Now:          t0,
		Others:       []Held{p},
		Latency:      []time.Duration{90 * time.Second},
		TaskDuration: 7 * time.Second,
		Remaining:    7 * time.Second,
		Demand:       []ebb.Demand{{Resources: cpus(1), Count: 48, Duration: 7 * time.Second}},
		Upcoming:     d.NextWave(w),
	}
	pol := wantChainsBought(t, s, "48 ready filters heading 70 s chains on 8 busy cpus, allocation 90 s")
	// Without their chains, the same backlog drains in time: nothing.
	s.Upcoming = nil
	if plan := pol.Plan(s); len(plan.Acquire) != 0 {
		t.Errorf("48 ready 7 s tasks on 8 busy cpus, no chains, allocation 90 s: plan %s, want nothing bought", formatPlan(plan))
	}
	// A chain is no reason to keep idle allocs or buy on its own: with
	// nothing ready, nothing is bought.
	s.Demand = nil
	s.Upcoming = []Upcoming{{Demand: ebb.Demand{Resources: cpus(1), Count: 48, Duration: 70 * time.Second}, Untimed: true, Follows: true}}
	if plan := pol.Plan(s); len(plan.Acquire) != 0 {
		t.Errorf("chains reported, nothing ready: plan %s, want nothing bought", formatPlan(plan))
	}
}

// splitFlow is chainFlow behind a running split: the split (60 s, run
// 30 s) fans out to n filters, each the head of a chain convert → index
// → align, the aligns gathered by one merge.
func splitFlow(n int) *dag {
	g := &dag{kinds: []string{"filter", "convert", "index", "align", "merge", "split"}, done: map[int32]bool{}, running: map[int32]time.Duration{}}
	split := g.add(5)
	g.running[split] = 30 * time.Second
	var ends []int32
	for range n {
		f := g.add(0, split)
		c := g.add(1, f)
		i := g.add(2, c)
		ends = append(ends, g.add(3, i))
	}
	g.add(4, ends...)
	return g
}

// The filters a running split makes ready each head a chain: their
// group reports the chains' 70 s (Upcoming.Chain). The filter that takes
// the split's slot asks for none, and neither does its chain.
func TestNextWaveReportsChainsBehindUpcomingTasks(t *testing.T) {
	d := chainDurations()
	for range 3 {
		d.Observe("split", time.Minute)
	}
	w, _ := splitFlow(48).wave()
	got := d.NextWave(w)
	if len(got) != 1 {
		t.Fatalf("NextWave = %+v, want the filters alone", got)
	}
	if u := got[0]; u.Count != 47 || u.In != 30*time.Second || u.Duration != 7*time.Second || u.Chain != 70*time.Second || u.Untimed || u.Follows {
		t.Errorf("NextWave = %+v, want 47 filters in 30 s, each heading 70 s of chain", u)
	}
}

// Filters due in 30 s, before a new alloc comes (90 s), count as
// waiting. By their own 7 s the primary's 8 slots start them all in
// time, but each holds its slot for its chain's 70 s more: the policy
// buys ahead of them.
func TestDefaultBuysForTheChainsBehindUpcomingTasks(t *testing.T) {
	d := chainDurations()
	for range 3 {
		d.Observe("split", time.Minute)
	}
	w, _ := splitFlow(48).wave()
	p := primary(8)
	p.Running, p.Busy, p.Free = 1, cpus(1), cpus(7)
	s := Snapshot{
		Now:          t0,
		Others:       []Held{p},
		Latency:      []time.Duration{90 * time.Second},
		TaskDuration: 7 * time.Second,
		Remaining:    30 * time.Second,
		Upcoming:     d.NextWave(w),
	}
	pol := wantChainsBought(t, s, "47 filters due in 30 s heading 70 s chains, 8 cpus held, allocation 90 s")
	// Without their chains, the same wave starts in time: nothing.
	for i := range s.Upcoming {
		s.Upcoming[i].Chain = 0
	}
	if plan := pol.Plan(s); len(plan.Acquire) != 0 {
		t.Errorf("47 filters of 7 s due in 30 s, no chains: plan %s, want nothing bought", formatPlan(plan))
	}
}

// wantChainsBought checks that the default policy buys for what s
// holds, the chains named in its reason, and returns the policy.
func wantChainsBought(t *testing.T, s Snapshot, what string) *Default {
	t.Helper()
	pol, _ := NewDefault(DefaultConfig{})
	plan := pol.Plan(s)
	if len(plan.Acquire) == 0 {
		t.Fatalf("%s: plan %s, want allocs bought", what, formatPlan(plan))
	}
	if r := plan.Acquire[0].Reason; !strings.Contains(r, "of it the chains its tasks head") {
		t.Errorf("%s: request reason %q, want the chains' part of the drain time named", what, r)
	}
	return pol
}
