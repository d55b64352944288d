// Package cluster defines a Cluster: a pool that can also be asked for an
// alloc of given requirements, and may grow (launch workers) to grant it.
//
//	Static   a pass-through Cluster over a fixed Pool: Allocate waits for
//	         capacity to free up in that pool.
//	Elastic  a Cluster that launches workers through a Provider when no
//	         worker can hold a request, and terminates the idle ones.
//
// A runner takes its primary alloc from a Cluster, and its stealers take
// auxiliary allocs from one.
//
// # Elastic clusters
//
// Vocabulary:
//
//   - A Provider starts and stops workers on one engine (local processes,
//     Slurm, Kubernetes, a user's commands). It offers Shapes: kinds of
//     worker, each with the Resources its pool will have and a Price per
//     minute.
//   - A Worker is one launched worker: an ID, its shape, and the pool it
//     serves. The Elastic's pool is the union of its workers' pools; an
//     alloc on worker W is named "W/ID".
//   - A request is an Allocate that no worker could hold when it came. A
//     launch claims the requests it will serve: a Claim is a request's
//     share of the worker (Width units of its Min).
//
// How a request flows:
//
//	Allocate ──best fit over the workers' offers──▶ alloc
//	   │ nothing fits
//	   ▼
//	waiting ──BatchWindow──▶ Pack(waiting, shapes, launches in flight, limits)
//	                             │ claims on launches in flight, new launches
//	                             ▼
//	                   Provider.Launch ──worker up──▶ claimants accept from it
//	                             │ failed
//	                             ▼
//	                   shape backed off; its claimants wait for the next plan
//
// Deciding is apart from doing: [Pack] is a pure function that places the
// waiting requests, first-fit decreasing, into the spare room of launches
// in flight and into new launches of the cheapest shape that fits, within
// the limits (MaxWorkers, MaxPending, CostCap). The manager, [Elastic.Run],
// applies its plans, calls the provider, polls the workers for idleness,
// and terminates those idle for IdleTimeout. Start it with
// `go elastic.Run(ctx)` before the Elastic is used: an Allocate that finds
// no manager running within RunWait fails with [ebb.ErrNotRunning]
// instead of waiting for launches that would never come. A cancelled
// Allocate drops its claim; the launch goes on, and its worker serves a
// later request or idles away.
//
// Package clustertest holds the fakes: a Cluster whose requests the test
// answers, a Provider whose workers are in-memory pools, and RunProvider,
// the conformance suite every Provider must pass.
package cluster
