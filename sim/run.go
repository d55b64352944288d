package sim

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

// Config configures one simulation: a workload, a policy, a cluster and a
// seed. Workload and Policy are required.
type Config struct {
	Workload *Workload
	Policy   stealer.Policy
	// PolicyName names the policy in the Result; default "policy".
	PolicyName string
	Cluster    Cluster
	// Seed seeds the cluster's draws: boot latencies, launch failures,
	// backoff jitter, each from its own PCG stream mixed with the
	// workload's name, so that every policy run on a workload with one
	// seed meets the same sequence of boot latencies and failures (the
	// k-th launch of each gets the same draw).
	Seed uint64
	// IdleTimeout is the idle timeout that the thrash index measures
	// re-buys against when the policy does not tell its own (see
	// [IdleTimer]). Zero: no acquisition counts as a re-buy.
	IdleTimeout time.Duration
	// Timeline, when set, records a [Sample] at every tick in
	// Result.Timeline, for plots.
	Timeline bool
	// Progress, when set, is called every 65,536 steps of the event
	// loop, from the goroutine that called Run.
	Progress func(Progress)
	// Memory, when set, is what the stealer remembers from earlier runs
	// on the same cluster: the run starts from it (instead of knowing
	// nothing) and leaves in it what it knows at its end. Runs that
	// share a Memory must not overlap.
	Memory *Memory
	// Log, when set, receives the policy's decisions at INFO: each
	// request, cancel and drain it makes with its reason, and its Hold
	// whenever that changes, with the run's virtual time (t, from its
	// start), the workload and the policy. It is the simulator's
	// counterpart of a Stealer's event log, to read why a policy did
	// what it did on a workload.
	Log *slog.Logger
}

// A Memory is what a stealer learns in a run and keeps for the next on
// the same cluster: the allocation latencies it observed and how long
// the requests it cancelled had waited (the last 32 of each),
// the typical task duration (Snapshot.TaskDuration), its recent changes,
// and the durations of each kind of task (what runner.Eval keeps in its
// history and reports in Demand), all of which a policy reads from its
// snapshots. A runner.Runner keeps all but the recent changes in the
// flow's history for its next run. A policy's own state, if it keeps
// any, carries over when the runs share the policy instance. The zero
// Memory knows nothing.
type Memory struct {
	// Learned is what the stealer observed of the cluster's latencies,
	// as a runner.Runner keeps it in the flow's history for its next
	// run (stealer.Learned).
	stealer.Learned
	TaskDuration time.Duration
	// Durations is what was learned of each kind of task's durations,
	// Sizes each task's against its kind's, by task ID, and SizeFit how
	// much of the sizes before showed in the run.
	Durations stealer.Profile
	Sizes     stealer.Sizes
	SizeFit   stealer.SizeFit
	// Recent is the stealer's recent acquisitions and releases
	// (Snapshot.Recent), and Clock the virtual time its last run ended
	// at: a run with a Memory starts at Clock, not at 0, so that the
	// times a policy saw and may keep (when it released an alloc, when
	// it last scaled) are in the past of the next run, as they are on a
	// real cluster. Its figures still count from its own start. Advance
	// Clock between runs for quiet time between them.
	Recent []stealer.Change
	Clock  time.Duration
}

// Progress says how far a run has got.
type Progress struct {
	Now   time.Duration // virtual time
	Done  int           // tasks finished
	Tasks int           // in the workload
}

// An IdleTimer is a policy that says how long it keeps an idle alloc
// before draining it, as stealer.Default.IdleTimeout does; the thrash
// index counts an acquisition as a re-buy when it was asked for less than
// twice that timeout after a release, the timeout the policy said when it
// drained the alloc released. Every baseline of this package is one.
type IdleTimer interface {
	IdleTimeout(s stealer.Snapshot) (timeout time.Duration, rebuys int)
}

// A Result is what one simulation measured.
type Result struct {
	Workload string  `json:"workload"`
	Policy   string  `json:"policy"`
	Metrics  Metrics `json:"metrics"`
	// Timeline holds a sample per tick when Config.Timeline was set.
	Timeline []Sample `json:"-"`
}

// A Sample is the state of a run at one tick, in cpu.
type Sample struct {
	At time.Duration
	// Held is the cpu held: the primary's and the granted auxiliary
	// allocs'. Booting is the cpu of launches in flight.
	Held, Booting float64
	// Busy is the cpu the running tasks hold; Waiting the cpu of the
	// ready tasks that nothing held can place. Busy + Waiting is the
	// demand.
	Busy, Waiting float64
}

// epoch is time zero of every run: Snapshot.Now is epoch plus the virtual
// time. Any fixed instant would do; this one reads well in a debugger.
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Run simulates cfg.Workload under cfg.Policy on cfg.Cluster and returns
// what it measured. It is deterministic: the same Config (the same seed)
// gives the same Result, bit for bit. It reads no clock; the policy sees
// virtual time in Snapshot.Now. It returns ctx's error when ctx is done,
// and an error wrapping ebb.ErrInvalid for a bad workload or cluster,
// naming the task or field; a panic during the run (a policy's Plan must
// not panic) is reported as an error naming the policy.
//
// A run stops when every task has finished (the makespan), or when it
// stalls (see Cluster.StallTimeout): then Metrics.Stalled says why and the
// figures cover the time simulated.
func Run(ctx context.Context, cfg Config) (res *Result, err error) {
	if cfg.Workload == nil || cfg.Policy == nil {
		return nil, fmt.Errorf("sim: config needs a workload and a policy: %w", ebb.ErrInvalid)
	}
	if cfg.PolicyName == "" {
		cfg.PolicyName = "policy"
	}
	cl, err := cfg.Cluster.WithDefaults()
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	e, err := newEngine(cfg, cl)
	if err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("sim: %s on %s at %v: panic (in the policy or the simulator): %v", cfg.PolicyName, cfg.Workload.Name, e.now, p)
		}
	}()
	if err := e.run(ctx); err != nil {
		return nil, err
	}
	return &Result{
		Workload: cfg.Workload.Name,
		Policy:   cfg.PolicyName,
		Metrics:  e.metrics(LowerBound(cfg.Workload, cl)),
		Timeline: e.timeline,
	}, nil
}

// streams returns the three random streams of a run.
func streams(seed uint64, workload string) (boot, fail, jitter *rand.Rand) {
	h := fnv.New64a()
	h.Write([]byte(workload))
	w := h.Sum64()
	return rand.New(rand.NewPCG(seed, w^0x626f6f74)), // "boot"
		rand.New(rand.NewPCG(seed, w^0x6661696c)), // "fail"
		rand.New(rand.NewPCG(seed, w^0x6a697474)) // "jitt"
}
