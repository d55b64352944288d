// Package ebb holds the vocabulary of elastic cluster allocation: the
// resources a task needs ([Resources], [Requirements]), the labels that
// travel with an allocation ([Labels]), flows of tasks ([Flow], [Task],
// [Graph]), content digests ([Digester]), and the error kinds every ebb
// package reports ([ErrInvalid], [ErrUnavailable], ...).
//
// A run of ebb holds one primary alloc for its whole life. When ready work
// exceeds what the run holds, stealers acquire auxiliary allocs from a
// cluster and give them back once they are idle. The packages below this
// one build that machinery; this is the map.
//
// # Where to start
//
// To run a flow, build a [Flow] and hand it to a
// [github.com/ebbflow/ebb/runner.Runner], with a cluster to take allocs from:
//
//	Flow ──▶ runner.Runner ──primary──▶ cluster.Cluster ──▶ pool.Pool (pool/local: this machine)
//	             │                            ▲
//	             └──▶ stealer.Stealer ──aux───┘  cluster.Elastic: launches workers
//	                                             through a cluster.Provider
//
// The packages, each of which defines its words in its own doc:
//
//   - [github.com/ebbflow/ebb/runner]: the Runner drives one run through
//     Init, Eval, Retry and Done, persists its State after every step, and
//     resumes a crashed run from it. Start here.
//   - [github.com/ebbflow/ebb/cluster]: a Cluster is a pool that can be asked
//     for an alloc and may grow to grant it: Static over a fixed pool,
//     Elastic over a Provider of workers (cluster/procs, cluster/slurm,
//     cluster/command), and Pack, the pure placement of requests into
//     worker shapes.
//   - [github.com/ebbflow/ebb/stealer]: the Stealer turns a run's unplaced
//     ready work into auxiliary allocs and gives them back once idle; its
//     Policy is a pure function from a snapshot to a plan.
//   - [github.com/ebbflow/ebb/pool]: where work runs: Pool, Offer, Alloc and
//     Exec, with pool/local (this machine), pool/remote (the pool protocol
//     that workers serve) and pool/pooltest (the conformance suite and an
//     in-memory pool).
//   - [github.com/ebbflow/ebb/repository]: the content-addressed blob store
//     that holds tasks' inputs and outputs, and the cache of task results
//     by task digest.
//   - [github.com/ebbflow/ebb/tracing]: OpenTelemetry spans and metrics of a
//     cluster's calls and a runner's runs and tasks, through providers you
//     pass in; off and free by default.
//   - [github.com/ebbflow/ebb/sim]: a deterministic simulator that runs the
//     real policies against baselines on standard and recorded workloads.
//
// # This package
//
// This package imports nothing of ebb's, so every other package can share
// its words. Every method on [Resources] and [Requirements] returns a fresh
// value; none aliases its receiver or its arguments.
package ebb
