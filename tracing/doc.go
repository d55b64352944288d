// Package tracing records what ebb does as OpenTelemetry spans and metrics:
// a tracing cluster ([Wrap]) that records every allocation call, and hooks
// ([Runs]) that a runner calls to record its runs and tasks.
//
// Telemetry goes only where a [Config] sends it: its TracerProvider and
// MeterProvider. Nothing here reads or sets OpenTelemetry's global
// providers, and the zero Config (or no-op providers) records nothing at
// no cost: Wrap returns the cluster itself and the Runs hooks return at
// once, without allocating.
//
//	runner ──StartRun──▶ ebb.Run
//	          │
//	          ├─ Wrap(cluster).Allocate ──▶ ebb.Cluster.Allocate ─ ebb.granted
//	          │     alloc.Keepalive      ──▶ ebb.Alloc.Keepalive   (every renewal)
//	          ├─ StartTask ──────────────▶ ebb.Task             (one per try)
//	          ├─ Cached ─────────────────▶ ebb.task.cached event
//	          └─ alloc.Free ─────────────▶ ebb.Alloc.Free
//
// # Spans
//
// Spans are children of the span in the context of the call, and their
// own contexts are passed on to the wrapped calls, so a remote pool's
// client spans nest under them. Spans start without attributes, which are
// added only when the span records: a sampler sees the span's name and
// parent, and a span it drops costs no attribute building.
//
//	ebb.Cluster.Allocate  ebb.pool, ebb.want.<key> (the request's Min),
//	                      ebb.want.width (when above 1), ebb.label.<key>;
//	                      when granted: an ebb.granted event, ebb.alloc.id,
//	                      ebb.resources.<key> (what the alloc holds). The
//	                      span lasts as long as the wait.
//	ebb.Pool.Offers       ebb.pool, ebb.offers (how many)
//	ebb.Offer.Accept      ebb.pool, ebb.offer.id, ebb.want.*, ebb.label.*;
//	                      when granted, ebb.alloc.id and ebb.resources.*
//	ebb.Alloc.Keepalive   ebb.pool, ebb.alloc.id, ebb.lease.requested and
//	                      ebb.lease.granted (seconds)
//	ebb.Alloc.Free        ebb.pool, ebb.alloc.id
//	ebb.Run               ebb.run.id, ebb.run.program; ebb.phase events
//	                      (ebb.run.phase); ebb.task.cached events
//	                      (ebb.task.name, ebb.task.digest)
//	ebb.Task              ebb.task.name, ebb.task.digest, ebb.alloc.id,
//	                      ebb.resources.<key>; at the end
//	                      ebb.exec.exit_code, ebb.exec.killed and
//	                      ebb.exec.transient (when true)
//
// A failed call records its error (span.RecordError) and sets the span's
// status to Error; so does a task whose result is not OK. A cancelled call
// (context.Canceled) is the caller giving up, not a failure: it gets an
// ebb.canceled event and no error status. Capacity, Pool.Alloc,
// Pool.Allocs and the exec methods of an alloc (Put, Exec, Execs, Remove,
// Inspect) pass through without spans; task spans cover the execs. An
// alloc's Pool method returns the tracing cluster, so that going back to
// an alloc's pool stays recorded. A runner renews each alloc's lease every
// half lease, so a long run makes many ebb.Alloc.Keepalive spans: a
// sampler may drop them by name.
//
// # Metrics
//
// A tracing cluster makes its instruments once, in Wrap; each measurement
// carries ebb.pool, the cluster's ID.
//
//	ebb.allocs.held        UpDownCounter  {alloc}    allocs held through
//	                                                 the cluster
//	ebb.resources.held     UpDownCounter  (key's)    their resources, by
//	                                                 resource (cpu, mem, ...)
//	ebb.allocate.active    UpDownCounter  {request}  Allocate calls in flight
//	ebb.allocate.duration  Histogram      s          one per Allocate, by
//	                                                 outcome (granted,
//	                                                 failed, canceled)
//	ebb.resources.minutes  Counter        min        resource × minutes
//	                                                 held, by resource
//
// An alloc is counted as held once, when Allocate or Offer.Accept grants
// it or Pool.Alloc re-attaches to it, and uncounted once, when Free
// succeeds or any call on it, Free included, fails with [ebb.ErrExpired]
// (or Pool.Alloc says it no longer exists). An alloc that expires while
// nobody calls it stays counted until someone does; a runner keeps its
// allocs alive, so it learns of a loss within a renewal. Resource-minutes
// accrue at every successful Keepalive, so they can be watched while an
// alloc is held, and at its end: a freed alloc is charged up to its Free,
// a lost one up to the end of its last granted lease if that came first.
//
// [Runs] makes two instruments, once, in NewRuns:
//
//	ebb.tasks              Counter        {task}     tasks by outcome: ok,
//	                                                 failed, interrupted (no
//	                                                 result), cached
//	ebb.task.duration      Histogram      s          StartTask to End, by
//	                                                 outcome
//
// # Using it in a runner
//
// The runner wraps its cluster once and keeps one *Runs (nil when tracing
// is off):
//
//	ctx, run := runs.StartRun(ctx, runID, program)
//	defer func() { run.End(err) }()
//	run.Phase("eval")
//	...
//	ctx, task := runs.StartTask(ctx, t.Name, digest, t.Resources, alloc.ID())
//	x, err := alloc.Put(ctx, digest, cfg)
//	if err == nil {
//		res, err = x.Wait(ctx)
//	}
//	task.End(res, err)
package tracing
