package sim

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/placement"
	"github.com/ebbflow/ebb/stealer"
)

// A task that fits no alloc's free room reserves one that holds it
// whole, as runner.Eval's placement does. On a primary of 4 cpu, g (5 s)
// and s1–s3 (40 s) start at 0 and s4–s6 (40 s) wait; big (4 cpu, 10 s),
// behind g, is ready at 5 s and reserves the primary, whose slots then
// take nothing else: big starts at 40 s, when s1–s3 end, and child
// (100 s), behind it, ends at 150 s. Without the reservation s4 would
// take g's slot at 5 s, s5 and s6 two of s1–s3's at 40 s, and big would
// start at 80 s: 190 s in all.
func TestLargeTaskReservesAnAlloc(t *testing.T) {
	s := func(id string) Task { return Task{ID: id, Duration: 40 * time.Second, Resources: cpu(1)} }
	w := &Workload{Name: "reserve", Tasks: []Task{
		{ID: "g", Duration: 5 * time.Second, Resources: cpu(1)},
		s("s1"), s("s2"), s("s3"), s("s4"), s("s5"), s("s6"),
		{ID: "big", Duration: 10 * time.Second, Resources: cpu(4), Deps: []int{0}},
		{ID: "child", Duration: 100 * time.Second, Resources: cpu(1), Deps: []int{7}},
	}}
	c := handCluster(4, 4, 100*time.Hour)
	c.MaxWorkers = 1
	m := run(t, w, NewStatic(StaticConfig{}, c), c)
	check(t, "makespan", m.Makespan, 150)
}

// A long task does not take a primary reserved for a larger one. Every
// kind's duration known, a primary of 4 cpu runs p1 and p2 (1 min) from
// 0 s, an auxiliary alloc of 1 cpu idles from 1 s; at 5 s come big
// (4 cpu, 10 s, heading a 2-hour child) and long (1 cpu, an hour). big
// ranks first, fits nowhere and reserves the primary; long's best fit is
// then the auxiliary alloc, and with the primary reserved it starts
// there, not beside p1 and p2: big starts at 1 min, when they end, and
// its child ends at 7,270 s. Were long to take the primary's free room,
// big would wait for it and the run end at 10,815 s.
func TestLongTaskLeavesAReservedPrimary(t *testing.T) {
	w := &Workload{Name: "reserved", Tasks: []Task{
		{ID: "p1", Kind: "p", Duration: time.Minute, Resources: cpu(1)},
		{ID: "p2", Kind: "p", Duration: time.Minute, Resources: cpu(1)},
		{ID: "big", Kind: "big", Duration: 10 * time.Second, Resources: cpu(4), Arrival: 5 * time.Second},
		{ID: "child", Kind: "c", Duration: 2 * time.Hour, Resources: cpu(1), Deps: []int{2}},
		{ID: "long", Kind: "long", Duration: time.Hour, Resources: cpu(1), Arrival: 5 * time.Second},
	}}
	p := stealer.PolicyFunc(func(s stealer.Snapshot) stealer.Plan {
		var plan stealer.Plan
		if s.Now.Equal(epoch) && len(s.Held)+len(s.Pending) == 0 {
			plan.Acquire = []stealer.Request{{Requirements: ebb.Requirements{Min: cpu(1)}}}
		}
		return plan
	})
	c := handCluster(4, 1, time.Second)
	r, err := Run(context.Background(), Config{Workload: w, Policy: p, Cluster: c, Seed: 1,
		Memory: &Memory{Durations: stealer.Profile{"p": {time.Minute}, "big": {10 * time.Second}, "c": {2 * time.Hour}, "long": {time.Hour}}}})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "makespan", r.Metrics.Makespan, 7270)
}

// The free index's reservation in place (reserveTop, then bestFit passing
// the reserved allocs by) reserves what placement.Reserve picks, the
// most free capacity first and the newest among equals, and bestFit then
// finds what it finds with those allocs taken out: in random indexes of
// allocs with few distinct free capacities, for random reservations and
// needs.
func TestReserveTopAgreesWithReserve(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	sp := newSpace()
	sp.add(ebb.Resources{ebb.CPU: 1, ebb.Mem: 1})
	vec := func(c, gib float64) []float64 { return sp.vec(ebb.Resources{ebb.CPU: c, ebb.Mem: gib * (1 << 30)}) }
	for trial := range 2000 {
		f := newFreeIndex(sp)
		var all []*alloc
		for num := range 1 + r.IntN(12) {
			a := &alloc{num: num, free: vec(float64(1+r.IntN(4)), float64(r.IntN(3))), bpos: -1}
			f.insert(a)
			all = append(all, a)
		}
		ks := []int{1 + r.IntN(len(all)+1)}
		if r.IntN(2) == 0 {
			ks = append(ks, 1+r.IntN(3))
		}
		// The reference: Reserve over the allocs, oldest first, each
		// reservation among those left.
		left := slices.Clone(all)
		for _, k := range ks {
			picked := placement.Reserve(nil, len(left), k, func(int) bool { return true }, func(i int) float64 { return sp.size(left[i].free) })
			taken := make(map[*alloc]bool)
			for _, i := range picked {
				taken[left[i]] = true
			}
			left = slices.DeleteFunc(left, func(a *alloc) bool { return taken[a] })
		}
		for _, k := range ks {
			f.reserveTop(k)
		}
		for _, a := range all {
			if got, want := f.reservedTop(a), !slices.Contains(left, a); got != want {
				t.Fatalf("trial %d, reservations %v: alloc %d (%v free) reserved %v, want %v", trial, ks, a.num, a.free, got, want)
			}
		}
		ref := newFreeIndex(sp)
		for _, a := range left {
			ref.insert(&alloc{num: a.num, free: a.free, bpos: -1})
		}
		for range 4 {
			need := vec(float64(1+r.IntN(4)), float64(r.IntN(3)))
			got, want := f.bestFit(need, sp.size(need)), ref.bestFit(need, sp.size(need))
			if (got == nil) != (want == nil) || got != nil && got.num != want.num {
				t.Fatalf("trial %d, reservations %v: bestFit(%v) = %v, want %v", trial, ks, need, got, want)
			}
		}
		// Taken out of the index, the reserved allocs leave it as the
		// reference has it.
		taken := f.takeTop(nil)
		if len(taken) != len(all)-len(left) || f.n != len(left) {
			t.Fatalf("trial %d, reservations %v: took %d allocs out, %d left filed; want %d and %d", trial, ks, len(taken), f.n, len(all)-len(left), len(left))
		}
		for _, a := range taken {
			if slices.Contains(left, a) {
				t.Fatalf("trial %d, reservations %v: took alloc %d out, which is not reserved", trial, ks, a.num)
			}
		}
	}
}
