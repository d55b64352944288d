package sim

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

// DaskConfig configures the [Dask] baseline; zero fields take the
// defaults of dask.distributed's Adaptive, given with each.
type DaskConfig struct {
	// Interval: how often a recommendation counts (interval, 1 s).
	Interval time.Duration
	// TargetDuration: the backlog should be done in this long
	// (target_duration, 5 s).
	TargetDuration time.Duration
	// WaitCount: a scale-down happens after this many consecutive
	// recommendations to scale down (wait_count, 3).
	WaitCount int
	// DefaultTaskDuration: what a task is taken to last before any has
	// finished (distributed.scheduler.default-task-durations, 0.5 s).
	DefaultTaskDuration time.Duration
	// MaxWorkers caps the workers (maximum); default the cluster's.
	MaxWorkers int
	// Worker is a worker's size; default the cluster's largest shape.
	Worker ebb.Resources
	// PrimaryCPU is the primary's cpu, which the target counts as a
	// worker that is always there; default the cluster's.
	PrimaryCPU float64
}

// Dask follows dask.distributed's Adaptive: the target is the cpu that
// would finish the work queued and processing (tasks × the mean task
// duration, cpu-weighted) in TargetDuration, at most one cpu per task
// cpu; the workers are that minus the primary, in whole workers. Above
// the workers held and asked for, it asks for the difference at once;
// below, it counts recommendations (one per Interval) and after WaitCount
// in a row it cancels requests in flight (newest first) and drains idle
// workers (longest idle first) down to the target. Workers that run tasks
// are never retired.
//
// It keeps state across ticks (the run of scale-down recommendations) in
// the value: use one per run, and it stays deterministic.
type Dask struct {
	cfg       DaskConfig
	down      int
	lastCount time.Time
}

// NewDask returns the Dask-like baseline for cluster c.
func NewDask(cfg DaskConfig, c Cluster) *Dask {
	def(&cfg.Interval, time.Second)
	def(&cfg.TargetDuration, 5*time.Second)
	def(&cfg.DefaultTaskDuration, 500*time.Millisecond)
	if cfg.WaitCount == 0 {
		cfg.WaitCount = 3
	}
	if cfg.MaxWorkers == 0 {
		cfg.MaxWorkers = c.MaxWorkers
	}
	if cfg.Worker.IsZero() {
		cfg.Worker = largest(c.Shapes)
	}
	if cfg.PrimaryCPU == 0 {
		cfg.PrimaryCPU = c.Primary[ebb.CPU]
	}
	return &Dask{cfg: cfg}
}

var _ IdleTimer = (*Dask)(nil)

// Plan decides as Adaptive would at s.Now.
func (p *Dask) Plan(s stealer.Snapshot) stealer.Plan {
	var plan stealer.Plan
	dur := s.TaskDuration
	if dur <= 0 {
		dur = p.cfg.DefaultTaskDuration
	}
	var work float64 // cpu of the tasks queued and processing
	for _, d := range s.Demand {
		work += float64(d.Count) * d.Resources[ebb.CPU]
	}
	for _, hs := range [][]stealer.Held{s.Held, s.Others} {
		for _, h := range hs {
			work += h.Busy[ebb.CPU]
		}
	}
	cpu := math.Min(math.Ceil(work*dur.Seconds()/p.cfg.TargetDuration.Seconds()), math.Ceil(work))
	per := p.cfg.Worker[ebb.CPU]
	target := 0
	if per > 0 {
		target = int(math.Ceil(math.Max(0, cpu-p.cfg.PrimaryCPU) / per))
	}
	target = min(target, p.cfg.MaxWorkers)
	current := live(s) + len(s.Pending)
	switch {
	case target > current:
		p.down = 0
		plan.Acquire = workers(target-current, p.cfg.Worker,
			fmt.Sprintf("dask: target %d workers for %.0f cpu of work, have %d", target, work, current))
	case target < current:
		if p.lastCount.IsZero() || s.Now.Sub(p.lastCount) >= p.cfg.Interval {
			p.down++
			p.lastCount = s.Now
		}
		if p.down < p.cfg.WaitCount {
			break
		}
		p.down = 0
		n := current - target
		for i := len(s.Pending) - 1; i >= 0 && n > 0; i-- {
			plan.Cancel = append(plan.Cancel, stealer.Cancel{ID: s.Pending[i].ID, Reason: fmt.Sprintf("dask: target %d", target)})
			n--
		}
		var idle []stealer.Held
		for _, h := range s.Held {
			if h.Working && !h.Draining && h.Running == 0 && !h.IdleSince.IsZero() {
				idle = append(idle, h)
			}
		}
		slices.SortStableFunc(idle, func(a, b stealer.Held) int { return cmp.Compare(a.IdleSince.UnixNano(), b.IdleSince.UnixNano()) })
		for _, h := range idle[:min(n, len(idle))] {
			plan.Drain = append(plan.Drain, stealer.Drain{AllocID: h.ID, Reason: fmt.Sprintf("dask: retired idle worker %s: target %d", h.ID, target)})
		}
	default:
		p.down = 0
	}
	return plan
}

// IdleTimeout returns how long an idle worker lasts at least: WaitCount
// recommendations, Interval apart.
func (p *Dask) IdleTimeout(stealer.Snapshot) (time.Duration, int) {
	return time.Duration(p.cfg.WaitCount) * p.cfg.Interval, 0
}

func (*Dask) lookaheadFree() {}
