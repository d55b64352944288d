package sim

import (
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

// PartekConfig configures the [Partek] baseline. Partek Flow's worker
// allocator has these knobs (CheckIntervalSec, a maximum of workers, and
// workers that shut down when idle); its documentation gives no
// defaults, so the ones below are ours.
type PartekConfig struct {
	// CheckInterval: how often the allocator asks whether pending work
	// could start at once on one more worker (30 s).
	CheckInterval time.Duration
	// IdleTimeout: a worker idle this long shuts down (10 min).
	IdleTimeout time.Duration
	// MaxWorkers caps the workers; default the cluster's.
	MaxWorkers int
	// Worker is a worker's size; default the cluster's largest shape.
	Worker ebb.Resources
}

// Partek follows Partek Flow's worker allocator: every CheckInterval, if
// some waiting task would start at once on one more worker (it fits the
// worker shape) and the workers alive or launching are below MaxWorkers,
// it launches one worker; workers idle for IdleTimeout shut down.
//
// It keeps state across ticks (when the next check is due) in the value:
// use one per run, and it stays deterministic.
type Partek struct {
	cfg       PartekConfig
	nextCheck time.Time
}

// NewPartek returns the Partek-like baseline for cluster c.
func NewPartek(cfg PartekConfig, c Cluster) *Partek {
	def(&cfg.CheckInterval, 30*time.Second)
	def(&cfg.IdleTimeout, 10*time.Minute)
	if cfg.MaxWorkers == 0 {
		cfg.MaxWorkers = c.MaxWorkers
	}
	if cfg.Worker.IsZero() {
		cfg.Worker = largest(c.Shapes)
	}
	return &Partek{cfg: cfg}
}

var _ IdleTimer = (*Partek)(nil)

// Plan decides as Partek's allocator would at s.Now.
func (p *Partek) Plan(s stealer.Snapshot) stealer.Plan {
	var plan stealer.Plan
	plan.Drain = idleDrains(s, p.cfg.IdleTimeout, "partek")
	if s.Now.Before(p.nextCheck) {
		return plan
	}
	p.nextCheck = s.Now.Add(p.cfg.CheckInterval)
	if workersFor(s.Demand, p.cfg.Worker) == 0 {
		return plan
	}
	if live(s)-len(plan.Drain)+len(s.Pending) < p.cfg.MaxWorkers {
		plan.Acquire = workers(1, p.cfg.Worker, "partek: work could start now on one more worker")
	}
	return plan
}

// IdleTimeout returns the worker idle timeout.
func (p *Partek) IdleTimeout(stealer.Snapshot) (time.Duration, int) { return p.cfg.IdleTimeout, 0 }

func (*Partek) lookaheadFree() {}
