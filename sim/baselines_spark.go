package sim

import (
	"fmt"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

// SparkConfig configures the [Spark] baseline; zero fields take the
// defaults of Spark's dynamic allocation, given with each.
type SparkConfig struct {
	// BacklogTimeout: tasks must have waited this long before the first
	// executors are asked for (spark.dynamicAllocation.
	// schedulerBacklogTimeout, 1 s).
	BacklogTimeout time.Duration
	// SustainedBacklogTimeout: while the backlog lasts, more are asked
	// for this often (sustainedSchedulerBacklogTimeout, 1 s).
	SustainedBacklogTimeout time.Duration
	// IdleTimeout: an executor idle this long is removed
	// (executorIdleTimeout, 60 s).
	IdleTimeout time.Duration
	// MaxExecutors caps the executors (maxExecutors); default the
	// cluster's MaxWorkers.
	MaxExecutors int
	// Executor is an executor's size; default the cluster's largest
	// shape.
	Executor ebb.Resources
}

// Spark follows Spark's dynamic allocation
// (ExecutorAllocationManager): once tasks have waited BacklogTimeout, it
// asks for 1 executor, then every SustainedBacklogTimeout while the
// backlog lasts for twice as many as the round before (1, 2, 4, 8…),
// never beyond what the backlog needs (net of executors on their way) nor
// MaxExecutors; a round that adds fewer than it meant to resets the ramp
// to 1. When the backlog is gone it drops the requests in flight, as
// Spark lowers its target. Executors idle for IdleTimeout are removed.
//
// It keeps state across ticks (when the backlog began, when the next
// round is due, the size of the next round) in the value: use one per
// run, and it stays deterministic.
type Spark struct {
	cfg          SparkConfig
	backlogSince time.Time
	nextAdd      time.Time
	toAdd        int
}

// NewSpark returns the Spark-like baseline for cluster c.
func NewSpark(cfg SparkConfig, c Cluster) *Spark {
	def(&cfg.BacklogTimeout, time.Second)
	def(&cfg.SustainedBacklogTimeout, time.Second)
	def(&cfg.IdleTimeout, time.Minute)
	if cfg.MaxExecutors == 0 {
		cfg.MaxExecutors = c.MaxWorkers
	}
	if cfg.Executor.IsZero() {
		cfg.Executor = largest(c.Shapes)
	}
	return &Spark{cfg: cfg, toAdd: 1}
}

func def(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}

var _ IdleTimer = (*Spark)(nil)

// Plan decides as Spark's allocation manager would at s.Now.
func (p *Spark) Plan(s stealer.Snapshot) stealer.Plan {
	var plan stealer.Plan
	plan.Drain = idleDrains(s, p.cfg.IdleTimeout, "spark")
	need := workersFor(s.Demand, p.cfg.Executor)
	if need == 0 {
		p.backlogSince, p.toAdd = time.Time{}, 1
		for _, r := range s.Pending {
			plan.Cancel = append(plan.Cancel, stealer.Cancel{ID: r.ID, Reason: "spark: no backlog: target lowered"})
		}
		return plan
	}
	if p.backlogSince.IsZero() {
		p.backlogSince = s.Now
		p.nextAdd = s.Now.Add(p.cfg.BacklogTimeout)
	}
	if s.Now.Before(p.nextAdd) {
		return plan
	}
	want := need - len(s.Pending)
	room := p.cfg.MaxExecutors - live(s) + len(plan.Drain) - len(s.Pending)
	add := max(0, min(p.toAdd, want, room))
	plan.Acquire = workers(add, p.cfg.Executor, fmt.Sprintf("spark: backlog of %d executors, adding %d", need, add))
	if add == p.toAdd {
		p.toAdd *= 2
	} else {
		p.toAdd = 1
	}
	p.nextAdd = s.Now.Add(p.cfg.SustainedBacklogTimeout)
	return plan
}

// IdleTimeout returns the executor idle timeout.
func (p *Spark) IdleTimeout(stealer.Snapshot) (time.Duration, int) { return p.cfg.IdleTimeout, 0 }

func (*Spark) lookaheadFree() {}
