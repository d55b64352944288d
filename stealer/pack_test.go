package stealer

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
)

var testShapes = []ebb.Resources{
	cpus(1), cpus(2), shape(1, 2), shape(0.5, 1), shape(4, 16), shape(8, 1),
	{ebb.CPU: 4, ebb.GPU: 1}, {ebb.CPU: 1, "licence": 1}, nil,
}

// placeOneByOne is the plain greedy that placeBins must match: shapes in
// order, each into the capacities in order, as many as fit in each.
func placeOneByOne(gs []group, caps []ebb.Resources) (rest []group, placed []int) {
	free := make([]ebb.Resources, len(caps))
	for i, c := range caps {
		free[i] = c.Clone()
	}
	placed = make([]int, len(caps))
	for _, g := range gs {
		n := g.count
		for i := range free {
			if n == 0 {
				break
			}
			if k := fitCount(g.shape, free[i], n); k > 0 {
				subInPlace(free[i], g.shape, k)
				placed[i] += k
				n -= k
			}
		}
		if n > 0 {
			rest = append(rest, group{shape: g.shape, count: n})
		}
	}
	return rest, placed
}

// Placing into runs of alike capacities at once gives what placing into
// each capacity in turn gives, and leaves its input alone.
func TestPlaceBinsMatchesOneByOne(t *testing.T) {
	for seed := range uint64(2000) {
		r := rand.New(rand.NewPCG(seed, 2))
		pick := func() ebb.Resources { return testShapes[r.IntN(len(testShapes))].Clone() }
		var demand []ebb.Demand
		for range r.IntN(4) {
			demand = append(demand, ebb.Demand{Resources: pick(), Count: r.IntN(60)})
		}
		gs := groups(demand)
		var bins []bin
		var caps []ebb.Resources
		for range r.IntN(6) {
			c := pick().Scale(float64(1 + r.IntN(6)))
			n := 1 + r.IntN(5)
			bins = append(bins, bin{free: c, n: n}) // alike neighbours stay apart
			for range n {
				caps = append(caps, c)
			}
		}
		before := fmt.Sprint(bins)
		rest, out := placeBins(gs, bins)
		wantRest, wantPlaced := placeOneByOne(gs, caps)
		var placed []int
		for _, b := range out {
			for range b.n {
				placed = append(placed, b.placed)
			}
		}
		if fmt.Sprint(rest) != fmt.Sprint(wantRest) || !slices.Equal(placed, wantPlaced) || fmt.Sprint(bins) != before {
			t.Fatalf("seed %d: demand %v into %v:\nrest %v, placed %v\nwant rest %v, placed %v\nbins after: %v",
				seed, demand, before, rest, placed, wantRest, wantPlaced, bins)
		}
	}
}

// fitsAll says what placing the tasks one capacity at a time says of
// whether they all fit, and leaves its input alone.
func TestFitsAllMatchesOneByOne(t *testing.T) {
	for seed := range uint64(2000) {
		r := rand.New(rand.NewPCG(seed, 3))
		pick := func() ebb.Resources { return testShapes[r.IntN(len(testShapes))].Clone() }
		var demand []ebb.Demand
		for range r.IntN(4) {
			demand = append(demand, ebb.Demand{Resources: pick(), Count: r.IntN(12)})
		}
		gs := groups(demand)
		var caps []ebb.Resources
		for range r.IntN(8) {
			caps = append(caps, pick().Scale(float64(r.IntN(4))))
		}
		before := fmt.Sprint(gs, caps)
		rest, _ := placeOneByOne(gs, caps)
		if got, want := fitsAll(gs, caps), tasks(rest) == 0; got != want || fmt.Sprint(gs, caps) != before {
			t.Fatalf("seed %d: demand %v on %v: fitsAll %v, want %v; after: %v", seed, demand, before, got, want, fmt.Sprint(gs, caps))
		}
	}
}

// TestGroupsMergeBounds checks how demands of one shape merge: a bound
// (0 included, for tasks just begun) makes the mean a bound, and a
// demand of no estimate makes the whole group unknown.
func TestGroupsMergeBounds(t *testing.T) {
	one := ebb.Resources{"cpu": 1}
	cases := []struct {
		name  string
		in    []ebb.Demand
		dur   time.Duration
		bound bool
	}{
		{"timed and just begun", []ebb.Demand{{Resources: one, Count: 1, Duration: 10 * time.Second}, {Resources: one, Count: 1, AtLeast: true}}, 5 * time.Second, true},
		{"just begun and unknown", []ebb.Demand{{Resources: one, Count: 1, AtLeast: true}, {Resources: one, Count: 1}}, 0, false},
		{"bound and unknown", []ebb.Demand{{Resources: one, Count: 1, Duration: 10 * time.Second, AtLeast: true}, {Resources: one, Count: 1}}, 0, false},
		{"unknown and timed", []ebb.Demand{{Resources: one, Count: 1}, {Resources: one, Count: 1, Duration: 10 * time.Second}}, 0, false},
		{"timed twice", []ebb.Demand{{Resources: one, Count: 1, Duration: 10 * time.Second}, {Resources: one, Count: 3, Duration: 30 * time.Second}}, 25 * time.Second, false},
	}
	for _, c := range cases {
		gs := groups(c.in)
		if len(gs) != 1 {
			t.Fatalf("%s: groups = %+v, want one", c.name, gs)
		}
		if gs[0].dur != c.dur || gs[0].bound != c.bound {
			t.Errorf("%s: merged as %v, bound %v; want %v, %v", c.name, gs[0].dur, gs[0].bound, c.dur, c.bound)
		}
	}
}
