package cluster_test

import (
	"math/rand/v2"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool"
)

// What Pack plans for a worker is what the worker's pool grants, unit for
// unit: accepting a launch's claims in order from a worker of its shape
// (pool.Grant, as every Pool sizes its allocs) gives each claim exactly
// the width Pack planned, so no alloc comes out smaller than planned and
// no request is left without the room it was promised.
func TestPackPlansWhatGrantGrants(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Quantities that round: tenths of a core, sizes just under a whole,
	// thirds of a GiB.
	quantity := func(scale float64) float64 {
		switch rng.IntN(4) {
		case 0:
			return float64(1+rng.IntN(16)) * 0.1 * scale
		case 1:
			return float64(1+rng.IntN(64)) * (1 - 1e-10) * scale
		case 2:
			return float64(1+rng.IntN(12)) / 3 * scale
		}
		return float64(1+rng.IntN(32)) * scale
	}
	res := func(scale float64) ebb.Resources {
		r := ebb.Resources{ebb.CPU: quantity(scale)}
		if rng.IntN(2) == 0 {
			r[ebb.Mem] = quantity(scale) * (1 << 30)
		}
		return r
	}
	for trial := range 2000 {
		var shapes []cluster.Shape
		for i := range 1 + rng.IntN(3) {
			shapes = append(shapes, cluster.Shape{Name: string(rune('a' + i)), Resources: res(8)})
		}
		var reqs []ebb.Requirements
		for range 1 + rng.IntN(6) {
			reqs = append(reqs, ebb.Requirements{Min: res(1), Width: rng.IntN(20)})
		}
		launches := cluster.Pack(reqs, shapes, nil, cluster.Limits{Launches: 8, Budget: 1e9})
		for _, l := range launches {
			free := l.Shape.Resources
			for _, c := range l.Claims {
				want := reqs[c.Request]
				got, ok := pool.Grant(free, want)
				if !ok {
					t.Fatalf("trial %d: worker %s (%s free) grants nothing to %s; Pack planned %d units",
						trial, l.Shape.Name, free, want, c.Width)
				}
				if units := want.UnitsIn(got); units != c.Width || !got.Equal(want.Min.Scale(float64(c.Width))) {
					t.Fatalf("trial %d: worker %s (%s free) grants %s to %s; Pack planned %d units",
						trial, l.Shape.Name, free, got, want, c.Width)
				}
				free = free.Sub(got)
			}
		}
	}
}
