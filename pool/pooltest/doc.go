// Package pooltest tests pools: [Run] is the conformance suite every
// [pool.Pool] must pass, and [Pool] is an in-memory pool with fault controls
// for testing the code that uses pools (runners, stealers, clusters).
//
// # The conformance suite
//
// Run checks the Pool contract for any implementation, as
// testing/fstest.TestFS does for file systems. A backend's test calls it
// with a [Config] whose New returns a fresh, empty pool:
//
//	func TestConformance(t *testing.T) {
//		pooltest.Run(t, pooltest.Config{
//			New: func(t *testing.T) pool.Pool {
//				p := mypool.New(...)
//				t.Cleanup(func() { p.Close() })
//				return p
//			},
//			Lease: time.Minute, // what Accept grants
//		})
//	}
//
// Every check is a named subtest (Accept/Race, Lease/Expiry, Put/Idempotent,
// ...), so `go test -run 'Conformance/Put'` runs a part of it. The lease
// subtests run inside a testing/synctest bubble so that a lease of an hour
// lapses in no time; a pool whose timers or execs cannot live in a bubble
// (one behind a real network connection, one whose execs are processes)
// sets Config.NoSynctest, or supplies bubble-friendly execs.
//
// # The memory pool
//
// [NewPool] makes a pool that lives in memory: a few nodes of fixed
// resources, one offer per node, allocs leased on the time package's timers
// (so synctest drives them), and execs that run Go functions ([ebb.Func]),
// or commands through a hook such as [Builtins]. Tests steer it with
// fault controls, all safe for concurrent use:
//
//	Kill(id)          the alloc is lost as if its node died
//	FailNext(op, err) the next call of op fails with err
//	SetDelay(op, d)   calls of op take d longer (fake time under synctest)
//	Hold(op)          calls of op wait at a Gate until the test opens it
//	Stats()           how many calls, allocs, frees, expiries and execs
//
// The memory pool passes Run; this package's own tests say so, and check
// that Run catches deliberately broken pools.
package pooltest
