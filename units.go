package ebb

import "math"

// Tolerance is the relative slack of every comparison of quantities in ebb:
// q fits in have when q ≤ have + Tolerance·max(1, |have|). It absorbs the
// rounding of repeated Add and Sub, so that capacity that was handed out
// and returned fits again, and k units of a quantity that were cut from
// have fit back in it. [Resources.Fits], [Requirements.UnitsIn] and
// [QuantityUnits] all use it, and so does every decision built on them
// (what a pool grants, what a cluster launches, what a worker takes), so
// that none of them disagrees with another by a rounding.
const Tolerance = 1e-9

// leq reports whether a fits in b within Tolerance.
func leq(a, b float64) bool {
	return a <= b+Tolerance*math.Max(1, math.Abs(b))
}

// QuantityUnits returns how many whole units of need fit side by side in
// have, at most limit: the largest n ≤ limit with n·need fitting have
// within [Tolerance]. A need of 0 or less fits limit times; a limit below
// 0 counts as 0. It is the scalar form of [Requirements.UnitsIn], for
// callers that keep quantities in vectors rather than Resources.
func QuantityUnits(need, have float64, limit int) int {
	if limit <= 0 {
		return 0
	}
	if need <= 0 {
		return limit
	}
	q := (have + Tolerance*math.Max(1, math.Abs(have))) / need
	if !(q >= 1) { // also NaN
		if leq(need, have) {
			return 1
		}
		return 0
	}
	if q >= float64(limit) {
		q = float64(limit)
	}
	n := int(q)
	// The division rounds; settle on exactly what Fits says of n·need, the
	// product Resources.Scale computes.
	for n > 0 && !leq(float64(n)*need, have) {
		n--
	}
	for n < limit && leq(float64(n+1)*need, have) {
		n++
	}
	return n
}

// UnitsIn returns how many whole units of r.Min fit side by side in free,
// at most max(1, r.Width): the largest k for which r.Min.Scale(k) fits free
// (see [Resources.Fits]). It returns 0 when not even Min fits. A Min that
// needs nothing fits max(1, r.Width) times.
//
// Every part of ebb that counts units asks here: what a pool grants (see
// pool.Grant), what an elastic cluster plans to launch, how many tasks an
// alloc takes, and the simulator, so they agree unit for unit.
func (r Requirements) UnitsIn(free Resources) int {
	return r.Min.unitsIn(free, r.width())
}

// unitsIn returns how many copies of r fit side by side in free, at most
// limit.
func (r Resources) unitsIn(free Resources, limit int) int {
	n := limit
	for k, v := range r {
		if v > 0 {
			n = min(n, QuantityUnits(v, free[k], n))
			if n == 0 {
				return 0
			}
		}
	}
	return n
}
