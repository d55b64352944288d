// Package clustertest holds fakes for testing code that uses clusters:
// a [Cluster] whose requests the test answers, and a [Provider] whose
// workers are in-memory pools.
//
// # A cluster the test answers
//
// New makes a [Cluster] over a pool (usually a [pooltest.Pool]). Its
// Allocate calls block, and show up in the test as [Request]s, in the order
// they arrived, with their Requirements and Labels:
//
//	c := clustertest.New(p)
//	go codeUnderTest(ctx, c)          // calls c.Allocate
//	r, _ := c.Next(ctx)               // the first request
//	a, _ := r.Grant(ctx)              // an alloc from p, returned by Allocate
//	r2, _ := c.Next(ctx)
//	r2.Fail(ebb.ErrUnavailable)       // Allocate returns this error
//	r3, _ := c.Next(ctx)
//	<-r3.Done(); r3.Cancelled()       // the code under test gave up on it
//
// Granted allocs are real allocs of the pool: they run execs (Go functions
// in a memory pool), expire, and can be killed with the pool's fault
// controls. So a test drives a stealer or a runner step by step: it sees
// what is asked, decides when and how it is answered, and checks that
// requests no longer needed are cancelled.
//
// # A provider of memory workers
//
// NewProvider makes a [Provider] for an elastic cluster
// (cluster.NewElastic): every launch takes ProviderConfig.LaunchTime on
// the time package's timers (so under testing/synctest a five-minute launch
// takes no time) and starts a worker whose pool is a memory pool of the
// shape's resources. FailNext fails the next launch of a shape, Add starts
// a worker as if an earlier process had (to test adoption), Pool gives a
// worker's memory pool for its fault controls, and Stats counts launches,
// failures, cancellations and terminations.
package clustertest
