package ebb

import (
	"math/rand/v2"
	"testing"
)

func TestUnitsIn(t *testing.T) {
	for _, c := range []struct {
		min   Resources
		width int
		free  Resources
		want  int
	}{
		{Resources{CPU: 1}, 2000, Resources{CPU: 1000 * (1 - 1e-10)}, 1000}, // rounding below a whole
		{Resources{CPU: 0.1}, 100, Resources{CPU: 0.7}, 7},                  // 0.7/0.1 = 6.999…
		{Resources{CPU: 1}, 0, Resources{CPU: 8}, 1},                        // width 0 means 1
		{Resources{CPU: 1}, 4, Resources{CPU: 8}, 4},
		{Resources{CPU: 2, Mem: 4}, 8, Resources{CPU: 8, Mem: 10}, 2},
		{Resources{CPU: 2}, 8, Resources{CPU: 1.5}, 0},
		{Resources{CPU: 2}, 8, Resources{Mem: 8}, 0},
		{nil, 5, nil, 5}, // needs nothing: fits width times
		{Resources{CPU: 1}, 8, Resources{CPU: -1}, 0},
	} {
		r := Requirements{Min: c.min, Width: c.width}
		if got := r.UnitsIn(c.free); got != c.want {
			t.Errorf("%v.UnitsIn(%v) = %d, want %d", r, c.free, got, c.want)
		}
	}
}

// UnitsIn agrees with Fits exactly: k units fit when Min×k Fits, and k+1
// do not (unless the width caps it).
func TestUnitsInAgreesWithFits(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	q := func() float64 {
		switch rng.IntN(3) {
		case 0:
			return float64(rng.IntN(100)) * 0.1
		case 1:
			return float64(1+rng.IntN(1000)) * (1 - float64(rng.IntN(3))*1e-10)
		}
		return rng.Float64() * 100
	}
	for range 100000 {
		min := Resources{CPU: q(), Mem: q()}
		free := Resources{CPU: q() * 10, Mem: q() * 10}
		r := Requirements{Min: min, Width: 1 + rng.IntN(200)}
		k := r.UnitsIn(free)
		if k > 0 && !min.Scale(float64(k)).Fits(free) {
			t.Fatalf("%v.UnitsIn(%v) = %d, but %d units do not fit", r, free, k, k)
		}
		if k == 0 && min.Fits(free) {
			t.Fatalf("%v.UnitsIn(%v) = 0, but Min fits", r, free)
		}
		if k > 0 && k < r.Width && min.Scale(float64(k+1)).Fits(free) {
			t.Fatalf("%v.UnitsIn(%v) = %d, but %d units fit", r, free, k, k+1)
		}
	}
}

func TestQuantityUnits(t *testing.T) {
	for _, c := range []struct {
		need, have float64
		limit      int
		want       int
	}{
		{1, 1000 * (1 - 1e-10), 5000, 1000},
		{0, 5, 3, 3},
		{1, 5, 0, 0},
		{1, 5, -1, 0},
		{3, 2, 10, 0},
		{1e-300, 1e300, 7, 7}, // no overflow
	} {
		if got := QuantityUnits(c.need, c.have, c.limit); got != c.want {
			t.Errorf("QuantityUnits(%g, %g, %d) = %d, want %d", c.need, c.have, c.limit, got, c.want)
		}
	}
}
