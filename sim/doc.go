// Package sim is a deterministic discrete-event simulator of elastic runs:
// it drives the real stealer.Policy implementations (ebb's default policy
// and the baselines of this package) through the same stealer.Snapshot a
// Stealer builds at run time, on a simulated cluster, and measures how
// well each sizes the cluster for a workload. No policy has a simulator-
// only path: a Plan is applied as stealer.Stealer applies it.
//
// Words:
//
//   - Workload: a graph of tasks, each with an arrival time, a duration,
//     the resources it holds while it runs, and a kind where one is known.
//     Standard builds the five standard workloads of BENCHMARKS.md §2
//     (burst, staged, diurnal, heavytail, trickle) and mixed (short
//     setups fanning out to three kinds of long tasks); ReadWfFormat
//     reads WfCommons traces (schema 1.4 to 1.6; a TraceReader may take
//     cores from avgCPU); ReadTrace reads the simulator's own CSV or JSON
//     traces; Replay makes a stream of runs of one, each starting a gap
//     after the one before has ended.
//   - Memory: what a stealer learns in a run (latencies, the typical task
//     duration, each kind's durations and each task's size against its
//     kind) and keeps for the next; Suite.History runs a workload
//     that many times before the run it measures.
//   - Cluster: the model. One primary alloc, held from start to end;
//     auxiliary allocs, one per request, each on a worker launched for
//     it, booting in a time drawn from a Dist and failing with a
//     probability; at most MaxWorkers workers; a price per cpu-minute
//     and a billing quantum.
//   - Policy: a stealer.Policy. The baselines (Static, Spark, Dask, Ray,
//     Partek, Reflow) follow the systems they are named after; they keep
//     state across ticks where the system does, in the policy value.
//   - Bound: the oracle lower bound on the makespan (LowerBound).
//   - Metrics, Report: what a run measured, and a suite's results with
//     the table, the Pareto fronts and the plots.
//   - Summary: one policy set against the best of the elastic baselines
//     over the reports of several seeds (Summarize).
//
// # The clock
//
// Time is virtual: a run starts at 0 and moves from one event to the next,
// kept in a binary heap (O(log n) per event; events due at the same moment
// come out in the order they were made). Snapshot.Now is a fixed epoch
// plus the virtual time; nothing reads the wall clock. Random draws (boot
// latencies, launch failures, backoff jitter) come from PCG streams seeded
// by Config.Seed and the workload's name, one stream each, so the same
// seed gives the same report bit for bit, and every policy run on a
// workload meets the same boot latencies in the same order.
//
// # A step
//
//	   next event time t  (task arrival · task end · launch done · tick · backoff end)
//	                  │
//	                  ▼
//	apply what is due at t: tasks arrive or finish (dependents become
//	ready, drained allocs that go idle are freed), launches are granted
//	(an alloc that works at once) or fail (backoff before new requests)
//	                  │
//	                  ▼
//	place ready tasks: shapes largest first (once every kind's duration
//	is known, the highest-ranked next task first), each on the alloc
//	with the least free capacity that holds it (best fit), by rank within
//	a shape, primary and auxiliary allocs alike; a task that fits no
//	alloc's free room reserves one that holds it whole, which no smaller
//	task then takes; once durations are known, a long task that would
//	keep an auxiliary alloc alive alone goes to the primary, or waits a
//	little for it (as runner.Eval places)
//	                  │  when a tick, a grant, a failure, a release,
//	                  │  a backoff's end or new demand calls for it
//	                  ▼
//	Snapshot ──▶ Policy.Plan ──▶ cancels, then drains, then acquires
//	                                       │
//	        Cancel: a queued request is dropped; a booting worker is
//	                terminated (its boot is billed and wasted)
//	        Drain:  the alloc takes no new task and is freed once idle
//	        Acquire: a request; a worker launches when fewer than
//	                MaxWorkers are alive, else it waits its turn
//
// The snapshot is the stealer's: Demand is the ready tasks no working alloc
// can place, by shape, largest first; Held the auxiliary allocs (Free,
// Busy, Running, IdleSince, Draining, Working, Since); Others the primary;
// Pending the requests in flight, oldest first; Latency the last 32
// request-to-grant latencies; TaskDuration the moving average of finished
// tasks' durations (the first, then += (d − avg)/8, as runner.Eval);
// Recent the last 256 acquisitions and releases. A tick comes every
// Cluster.Tick (1 s, as stealer.Config.Tick).
//
// # What is measured
//
// Per (workload, policy), in Metrics: the makespan and its ratio to the
// lower bound; wasted auxiliary cpu-minutes ∫(allocated − busy) dt, split
// into boot (launch to grant: the model bills boots), slack (free beside
// running tasks, gaps between them), idle tail (after the last task, until
// the release) and never-used (allocs that ran nothing), and as a
// percentage of the busy cpu-minutes of the same allocs; the cost under
// the billing quantum; task waits (ready to start) at p50, p95, p99; scale
// events (acquisitions and releases); the thrash index (the share of
// acquisitions asked for less than twice the policy's idle timeout after
// a release, the timeout under which it drained the alloc); busy drains,
// and busy kills, which must be (and are) 0: the simulator, like a
// Stealer, frees an alloc only once its tasks are done.
// Resource-minutes are cpu-minutes; memory and other keys constrain
// placement only.
//
//	cpu ▲          booting   held (primary + granted auxiliary)
//	    │         ┌┄┄┄┄┐┌──────────────────────┐
//	    │         ┊boot┊│ slack ░░  idle tail ░│ ◀ waste
//	    │  ┌──────┘    └┘█████████▇▇▇▅▅▃▃     ░└───
//	    │  │ primary     ████ busy █████▇▅▃
//	    └──┴──────────────────────────────────────▶ t
//
// A Suite runs workloads × policies and returns a Report: its JSON, an
// aligned table, each workload's Pareto front on the (makespan, waste)
// plane, judged with DominanceTolerance (1 %: figures closer than that
// count as equal), and SVG plots (capacity held against demand over
// time, panels on shared axes; the plane). One seed is one draw of boot
// latencies and failures, on which a short flow's figures can turn:
// Summarize sets a policy against the best elastic baseline over the
// reports of several seeds. The ebb command's "sim" subcommand drives
// both (-seeds).
package sim
