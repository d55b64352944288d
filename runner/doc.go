// Package runner runs flows: it evaluates a flow's tasks in a primary alloc
// taken from a cluster, persists the run's State after every step, and
// resumes a run from its State in another process after a crash.
//
//	          ┌──────────── Retry (backoff) ◀───────────┐
//	          ▼                                         │ primary lost,
//	New ──▶ Init ──▶ Eval ──────────────────────────────┤ transient error
//	       primary    tasks run in the primary          │
//	       taken or   (and in auxiliary allocs,         ▼
//	       re-attached stealers add them)              Done: Result or Err,
//	                                                   every alloc freed
//
// Words, as this package uses them:
//
//   - A Runner drives one run: Do takes one step (a phase) and says
//     whether there are more, so a caller can persist the State between
//     steps; Run loops over Do and saves the State to a StateStore.
//   - State is everything needed to resume: the run ID (the digest of the
//     flow's task digests and parameters), the phase, the allocs held,
//     the tries, the times, the result, and the resource-minutes used.
//     It is versioned JSON; FileStore keeps it in a file, written
//     atomically.
//   - An Eval is the evaluation of one flow: tasks found in the cache are
//     skipped (and so are the tasks that only feed them), ready tasks wait
//     in a queue grouped by shape, and allocs take part through Work,
//     which runs the largest ready tasks that fit (best fit, at most
//     MaxExecs at a time); once every kind's duration is known, the
//     highest-ranked first, and a long task that would keep an auxiliary
//     alloc alive alone goes to the primary, or waits a little for it.
//     A task that fits no alloc's free room reserves one that holds it
//     whole, which smaller tasks then leave alone until it fits there,
//     so that large tasks are not starved by small ones.
//     Demand is a dry run of that same placement:
//     the ready tasks the working allocs will not run, which a stealer
//     turns into auxiliary allocs.
//   - A task's identity is its digest (see ebb.Graph.Digests): its exec
//     in an alloc is named by it, so a resumed run re-attaches to an exec
//     still running instead of starting it again, and its result goes to
//     the cache under it.
//   - Events tell a task's life as it happens (queued, started on an
//     alloc, finished, retried, lost with its alloc) and the stealer's
//     decisions, in one stream: an EventBus set in Config hands them to
//     each Subscription through a bounded buffer, never waiting for a
//     subscriber; one that falls behind is told how many it missed. The
//     workers of an elastic cluster join the stream through EventBus.Worker
//     (cluster.ElasticConfig.OnWorker).
//   - Status, for people: Config.Status, a group of a grailbio/base
//     status.Status, shows what the run waits for, its Progress, and a
//     task per task running; the stealer's and the cluster's groups
//     (StealConfig.Status, cluster.ElasticConfig.Status) sit beside it.
//
// What fails where: a task that fails for good fails the run, with its
// name and the tail of its stderr (a *TaskError), after its running
// siblings are killed; finished tasks stay in the cache. A task that fails
// in a way that may pass (a Func error wrapping ebb.ErrUnavailable, a
// process killed by a signal nobody in ebb sent, a try killed past the
// task's Timeout) is tried again up to its Attempts; a task whose last
// try timed out fails the run with an error wrapping ebb.ErrTimeout. A lost alloc's running tasks go back to the ready queue. A
// lost primary moves the run to Retry, and a new primary is taken.
//
// What outlives a crash of the driver: the State (saved after every step),
// the repository and the cache, and the allocs of pools that run in other
// processes. A pool inside the driver's process (pool/local's New, as the
// quickstart uses it) dies with it: its execs are killed, and on resume
// their tasks run again, even one that ended just before the crash but
// whose result was not yet in the cache. A pool served by a process of its
// own (an ebb worker, as every cluster.Provider starts them, and as `ebb
// run` serves its primary: cluster/procs) keeps its allocs alive for their
// lease (Config.Keepalive.Lease, a minute by default): a Runner given the
// State within that time, in any process, re-attaches them (pool.Pool.Alloc)
// and the execs on them by task digest, so a task running at the crash
// runs on to its end once, and one that ended there is not run again. For
// the auxiliary allocs of an Elastic, the provider must also find the
// workers again (cluster.WorkerRecord: the Elastic adopts them).
package runner
