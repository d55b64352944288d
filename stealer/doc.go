// Package stealer makes a run's cluster follow its work. A run holds one
// primary alloc for its whole life; when its ready work is more than what
// it holds can run, a [Stealer] acquires auxiliary allocs from a cluster,
// has the evaluation steal ready tasks onto them, and gives them back once
// they are idle.
//
// Words:
//
//   - Demand: the ready tasks that no alloc working for the evaluation can
//     place (see [Evaluator.Demand]), by shape.
//   - Held: the auxiliary allocs a stealer holds. Others: the allocs that
//     work for the evaluation without being the stealer's (the primary).
//   - Pending: requests in flight, Allocate calls not yet granted.
//   - Backlog: the demand left once held-but-not-yet-working allocs and
//     pending requests are counted in.
//   - Snapshot: all of the above at one moment, as plain data.
//   - Policy: a pure function from a Snapshot to a Plan (acquire, cancel,
//     drain), every item with a reason. [Default] is ebb's; package sim
//     runs the same policies on simulated clusters.
//   - Admit: what of a Plan is carried out (caps, invalid requests,
//     unknown IDs), one pure function that a Stealer and the simulator
//     both apply.
//   - Event: a decision or an outcome, with its reason, for people and
//     for the run's records.
//
// # The loop
//
// [Stealer.Run] owns one loop. It looks at the evaluation every tick, at
// once when it starts, when an Allocate call returns, when an alloc is
// released, and when [Stealer.Wake] is called:
//
//	            tick · Wake · a grant · a release
//	                            │
//	                            ▼
//	ev.Demand(), ev.Load() ──▶ Snapshot ──▶ Policy.Plan ──▶ Admit
//	                                                         │
//	       ┌─────────────────────────┬───────────────────────┤
//	       ▼                         ▼                       ▼
//	    Cancel                     Drain                  Acquire
//	cancel the request's     ev.Drain(id): the     go Cluster.Allocate(ctx)
//	Allocate context         alloc takes no new            │ granted
//	                         task                          ▼
//	                                                OnAcquire(alloc)
//	                                                       │
//	                                                       ▼
//	                                                ev.Work(ctx, alloc)
//	                                                       │ returns: drained and
//	                                                       │ idle, lost, evaluation
//	                                                       ▼ done, or Run over
//	                                                alloc.Free, OnRelease(id)
//
// The loop alone owns the stealer's state; the goroutines it starts (one
// per request, which goes on to work the alloc it is granted) report to it
// by message. Run returns when ctx is done or the evaluation is, once every
// request is cancelled, every alloc freed and every goroutine ended.
//
// # Two-phase release
//
// An alloc is never freed while it runs work. Giving one back takes two
// steps: the policy drains it ([Evaluator.Drain]: it takes no new task),
// and its Work returns once the tasks it runs have finished; only then does
// the stealer free it. The default policy drains only allocs that run
// nothing and have been idle for its idle timeout, or that nothing left
// of the flow could use (every task left to start fits on what stays),
// so the drain is normally followed by the free within a tick. The one
// exception is the end of Run itself: when ctx is done, Work is
// cancelled, the tasks it ran go back to the evaluation, and the alloc
// is freed.
//
// # Persistence
//
// A runner that must survive a crash records each auxiliary alloc's ID in
// OnAcquire and forgets it in OnRelease; a resumed run re-attaches the
// allocs still alive (Cluster.Alloc) and hands them to the new Stealer in
// [Config.Allocs].
package stealer
