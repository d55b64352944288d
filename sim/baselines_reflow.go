package sim

import (
	"fmt"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

// ReflowConfig configures the [Reflow] baseline.
type ReflowConfig struct {
	// IdleTimeout: an alloc idle this long is given back (5 min).
	IdleTimeout time.Duration
}

// Reflow follows grailbio/reflow's work stealer (runner.Stealer): one
// Allocate in flight at a time, asking for the largest Min of the waiting
// tasks (key by key) times the number of waiting tasks, which the cluster
// clips to what a worker holds; allocs idle for IdleTimeout are given
// back. It is stateless.
type Reflow struct{ cfg ReflowConfig }

// NewReflow returns the Reflow-like baseline.
func NewReflow(cfg ReflowConfig) *Reflow {
	def(&cfg.IdleTimeout, 5*time.Minute)
	return &Reflow{cfg: cfg}
}

var _ IdleTimer = (*Reflow)(nil)

// Plan decides as reflow's stealer would at s.Now.
func (p *Reflow) Plan(s stealer.Snapshot) stealer.Plan {
	var plan stealer.Plan
	plan.Drain = idleDrains(s, p.cfg.IdleTimeout, "reflow")
	n := demandTasks(s)
	if n == 0 || len(s.Pending) > 0 {
		return plan
	}
	var need ebb.Resources
	for _, d := range s.Demand {
		need = need.Max(d.Resources)
	}
	plan.Acquire = []stealer.Request{{
		Requirements: ebb.Requirements{Min: need, Width: n},
		For:          s.Demand,
		Reason:       fmt.Sprintf("reflow: need %s × %d", need, n),
	}}
	return plan
}

// IdleTimeout returns the alloc idle timeout.
func (p *Reflow) IdleTimeout(stealer.Snapshot) (time.Duration, int) { return p.cfg.IdleTimeout, 0 }

func (*Reflow) lookaheadFree() {}
