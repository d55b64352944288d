package sim

import (
	"fmt"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

// StaticConfig configures the [Static] baseline.
type StaticConfig struct {
	// Workers is how many workers to hold besides the primary: 0 for
	// the primary alone ("static"), the cluster's MaxWorkers for
	// "static-max".
	Workers int
	// Shape is the workers' shape; default the cluster's largest.
	Shape ebb.Resources
}

// Static is the static-cluster baseline: it asks for Workers whole
// workers at once, re-asks for any that fail, and never gives one back
// (they are released when the run ends). With Workers 0 the run has the
// primary alone. It is stateless.
type Static struct{ cfg StaticConfig }

// NewStatic returns the static baseline for cluster c.
func NewStatic(cfg StaticConfig, c Cluster) *Static {
	if cfg.Shape.IsZero() {
		cfg.Shape = largest(c.Shapes)
	}
	return &Static{cfg: cfg}
}

var _ IdleTimer = (*Static)(nil)

// Plan keeps Workers workers held or asked for.
func (p *Static) Plan(s stealer.Snapshot) stealer.Plan {
	n := p.cfg.Workers - live(s) - len(s.Pending)
	return stealer.Plan{Acquire: workers(n, p.cfg.Shape, fmt.Sprintf("static: keep %d workers", p.cfg.Workers))}
}

// IdleTimeout is 0: the static baseline never drains, so nothing it buys
// is a re-buy.
func (p *Static) IdleTimeout(stealer.Snapshot) (time.Duration, int) { return 0, 0 }

func (*Static) lookaheadFree() {}
