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

// RayConfig configures the [Ray] baseline; zero fields take the defaults
// of Ray's autoscaler, given with each.
type RayConfig struct {
	// UpscalingSpeed: at most max(InitialLaunches, UpscalingSpeed ×
	// nodes) launches in flight (upscaling_speed, 1.0).
	UpscalingSpeed float64
	// InitialLaunches: the floor of that cap (5).
	InitialLaunches int
	// IdleTimeout: a node idle this long is terminated
	// (idle_timeout_minutes, 5 min).
	IdleTimeout time.Duration
	// MaxWorkers caps the nodes (max_workers); default the cluster's.
	MaxWorkers int
	// NodeTypes are the node shapes; default the cluster's shapes.
	NodeTypes []ebb.Resources
}

// Ray follows Ray's autoscaler: it bin-packs the demand it sees (the
// resource requests of tasks that wait) first onto the nodes being
// launched, then onto new nodes, first fit decreasing, opening for a task
// that fits no open node the cheapest node type that holds it; it
// launches at most max(InitialLaunches, UpscalingSpeed × nodes) nodes in
// flight, within MaxWorkers, and terminates nodes idle for IdleTimeout.
// It asks for whole nodes and never cancels a launch. It is stateless.
type Ray struct{ cfg RayConfig }

// NewRay returns the Ray-like baseline for cluster c.
func NewRay(cfg RayConfig, c Cluster) *Ray {
	if cfg.UpscalingSpeed == 0 {
		cfg.UpscalingSpeed = 1
	}
	if cfg.InitialLaunches == 0 {
		cfg.InitialLaunches = 5
	}
	def(&cfg.IdleTimeout, 5*time.Minute)
	if cfg.MaxWorkers == 0 {
		cfg.MaxWorkers = c.MaxWorkers
	}
	if len(cfg.NodeTypes) == 0 {
		cfg.NodeTypes = c.Shapes
	}
	types := make([]ebb.Resources, len(cfg.NodeTypes))
	for i, t := range cfg.NodeTypes {
		types[i] = t.Clone()
	}
	// Cheapest first: by cpu, then by size.
	slices.SortStableFunc(types, func(a, b ebb.Resources) int {
		if c := cmp.Compare(a[ebb.CPU], b[ebb.CPU]); c != 0 {
			return c
		}
		return cmp.Compare(a.Size(), b.Size())
	})
	cfg.NodeTypes = types
	return &Ray{cfg: cfg}
}

var _ IdleTimer = (*Ray)(nil)

// Plan decides as Ray's autoscaler would at s.Now.
func (p *Ray) Plan(s stealer.Snapshot) stealer.Plan {
	var plan stealer.Plan
	plan.Drain = idleDrains(s, p.cfg.IdleTimeout, "ray")
	// Bins: the nodes being launched, then new ones.
	type bin struct {
		free  ebb.Resources
		shape ebb.Resources
	}
	var bins []*bin
	for _, r := range s.Pending {
		m := r.Requirements.Max()
		bins = append(bins, &bin{free: m, shape: m})
	}
	launching := len(bins)
	demand := slices.Clone(s.Demand)
	slices.SortStableFunc(demand, func(a, b ebb.Demand) int { return cmp.Compare(b.Resources.Size(), a.Resources.Size()) })
	for _, d := range demand {
		n := d.Count
		for _, b := range bins {
			if n == 0 {
				break
			}
			if k := fitUnits(d.Resources, b.free, n); k > 0 {
				b.free = b.free.Sub(d.Resources.Scale(float64(k)))
				n -= k
			}
		}
		for n > 0 {
			i := slices.IndexFunc(p.cfg.NodeTypes, d.Resources.Fits)
			if i < 0 {
				break // no node type holds it
			}
			t := p.cfg.NodeTypes[i]
			k := min(n, fitUnits(d.Resources, t, n))
			bins = append(bins, &bin{free: t.Sub(d.Resources.Scale(float64(k))), shape: t})
			n -= k
		}
	}
	nodes := live(s) - len(plan.Drain)
	inFlight := max(p.cfg.InitialLaunches, int(math.Ceil(p.cfg.UpscalingSpeed*float64(nodes))))
	allowed := min(inFlight-len(s.Pending), p.cfg.MaxWorkers-nodes-len(s.Pending), len(bins)-launching)
	for _, b := range bins[launching : launching+max(0, allowed)] {
		plan.Acquire = append(plan.Acquire, stealer.Request{
			Requirements: ebb.Requirements{Min: b.shape.Clone(), Width: 1},
			Reason:       fmt.Sprintf("ray: node %s for waiting tasks", b.shape),
		})
	}
	return plan
}

// IdleTimeout returns the node idle timeout.
func (p *Ray) IdleTimeout(stealer.Snapshot) (time.Duration, int) { return p.cfg.IdleTimeout, 0 }

func (*Ray) lookaheadFree() {}
