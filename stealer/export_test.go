package stealer

import "github.com/ebbflow/ebb"

// For the external tests, which hold the default policy to the
// invariants of package policytest.

// ExpectedGrant returns what d expects request r to be granted in s: as
// many units of Min as the largest cut of allocs granted alike held, at
// most its Width, as d counts requests in flight when it plans.
func ExpectedGrant(d *Default, s Snapshot, r ebb.Requirements) ebb.Resources {
	return r.Min.Scale(float64(credit(r.Min, max(1, r.Width), grantCap(s))))
}
