package sim

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
)

// A Cluster is the simulated cluster: one primary alloc held for the whole
// run, and workers launched on demand for auxiliary allocs. Zero fields
// take the defaults of [DefaultCluster], except FailProb and Quantum,
// whose zero means what it says (no failures, exact billing).
//
// A Cluster is a value: the simulator copies what it needs.
type Cluster struct {
	// Primary is the primary alloc: held from the start to the end of
	// the run, never billed in the auxiliary figures. Default cpu=8,
	// mem=32GiB.
	Primary ebb.Resources `json:"primary"`

	// Shapes are the worker shapes an auxiliary alloc can be launched
	// on: each request launches one worker, of the cheapest shape that
	// holds its Max (as cluster.Pack picks; shapes cost their cpu), or,
	// when none does, the cheapest of those holding the most units of
	// its Min; the alloc holds as many whole units of Min as fit the
	// shape, up to its Width (pool.Grant). Default one shape,
	// cpu=8,mem=32GiB.
	Shapes []ebb.Resources `json:"shapes"`

	// Boot is how long a launch takes, from the moment the cluster
	// starts it to the grant. Default lognormal:30s,0.3.
	Boot Dist `json:"boot"`

	// FailProb is the probability that a launch fails; it fails once
	// its boot latency has passed, and is not billed. Default 0.
	FailProb float64 `json:"fail_prob"`

	// MaxWorkers caps the workers alive or booting. A request beyond it
	// waits in the cluster, in order, until a worker is released (as
	// cluster.Elastic holds an Allocate call): its latency grows, it is
	// not billed while it waits. Default 32.
	MaxWorkers int `json:"max_workers"`

	// Price is what one cpu of an auxiliary alloc costs per minute it
	// lives, booting included: the cluster bills what an alloc holds (a
	// container sized to its grant, as per-pod or Fargate-like billing
	// does), not its worker's whole shape. Default 1: costs read as
	// billed cpu-minutes.
	Price float64 `json:"price"`

	// Quantum is the billing quantum: each worker's lifetime is rounded
	// up to a whole number of quanta (a minute, an hour). Zero bills
	// exactly.
	Quantum time.Duration `json:"quantum"`

	// Tick is how often the stealer looks at the run when nothing else
	// wakes it, as stealer.Config.Tick. Default 1 s.
	Tick time.Duration `json:"tick"`

	// MaxPending caps the requests in flight whatever the policy asks,
	// as stealer.Config.MaxPending. Default 64.
	MaxPending int `json:"max_pending"`

	// RetryMinWait and RetryMaxWait pace new requests after failed
	// launches, as the stealer's: after n failures in a row nothing new
	// is asked for during RetryMinWait × 2ⁿ⁻¹ (a fifth of it drawn at
	// random), at most RetryMaxWait. Defaults 1 s and 1 min.
	RetryMinWait time.Duration `json:"retry_min_wait"`
	RetryMaxWait time.Duration `json:"retry_max_wait"`

	// StallTimeout ends a run that has made no progress for this long
	// while tasks remain, nothing runs and nothing is left to arrive (a
	// policy that never buys what a waiting task needs): the run is
	// reported as stalled. Default 6 h.
	StallTimeout time.Duration `json:"stall_timeout"`
}

// DefaultCluster returns the cluster that zero fields default to: a
// primary and workers of 8 cpu and 32 GiB, at most 32 workers, booting in
// lognormal:30s,0.3 (12 s to 74 s, median 30 s: a container on a busy
// node to a small VM), no failures, one unit of price per cpu-minute,
// billed exactly, ticks of 1 s.
func DefaultCluster() Cluster {
	node := ebb.Resources{ebb.CPU: 8, ebb.Mem: 32 << 30}
	return Cluster{
		Primary:      node.Clone(),
		Shapes:       []ebb.Resources{node.Clone()},
		Boot:         Dist{Kind: LogNormal, A: 30 * time.Second, Sigma: 0.3},
		MaxWorkers:   32,
		Price:        1,
		Tick:         time.Second,
		MaxPending:   64,
		RetryMinWait: time.Second,
		RetryMaxWait: time.Minute,
		StallTimeout: 6 * time.Hour,
	}
}

// WithDefaults returns c with its zero fields set to the defaults, or an
// error wrapping ebb.ErrInvalid that names the bad field.
func (c Cluster) WithDefaults() (Cluster, error) {
	d := DefaultCluster()
	if len(c.Primary) == 0 {
		c.Primary = d.Primary
	}
	if len(c.Shapes) == 0 {
		c.Shapes = d.Shapes
	}
	if c.Boot == (Dist{}) {
		c.Boot = d.Boot
	}
	if c.MaxWorkers == 0 {
		c.MaxWorkers = d.MaxWorkers
	}
	if c.Price == 0 {
		c.Price = d.Price
	}
	if c.Tick == 0 {
		c.Tick = d.Tick
	}
	if c.MaxPending == 0 {
		c.MaxPending = d.MaxPending
	}
	if c.RetryMinWait == 0 {
		c.RetryMinWait = d.RetryMinWait
	}
	if c.RetryMaxWait == 0 {
		c.RetryMaxWait = d.RetryMaxWait
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = d.StallTimeout
	}
	c.Primary = c.Primary.Clone()
	c.Shapes = slices.Clone(c.Shapes)
	for i := range c.Shapes {
		c.Shapes[i] = c.Shapes[i].Clone()
	}
	return c, c.validate()
}

func (c Cluster) validate() error {
	if err := c.Primary.Validate(); err != nil {
		return fmt.Errorf("cluster primary: %w", err)
	}
	for i, s := range c.Shapes {
		if err := s.Validate(); err != nil {
			return fmt.Errorf("cluster shape %d (%s): %w", i, s, err)
		}
		if s.IsZero() {
			return fmt.Errorf("cluster shape %d: holds nothing: %w", i, ebb.ErrInvalid)
		}
	}
	if err := c.Boot.Validate(); err != nil {
		return fmt.Errorf("cluster boot: %w", err)
	}
	switch {
	case c.FailProb < 0 || c.FailProb >= 1 || math.IsNaN(c.FailProb):
		return fmt.Errorf("cluster fail probability %v: must be in [0, 1): %w", c.FailProb, ebb.ErrInvalid)
	case c.MaxWorkers < 0:
		return fmt.Errorf("cluster max workers %d: must not be negative: %w", c.MaxWorkers, ebb.ErrInvalid)
	case c.Price < 0 || math.IsNaN(c.Price) || math.IsInf(c.Price, 0):
		return fmt.Errorf("cluster price %v: must be finite and not negative: %w", c.Price, ebb.ErrInvalid)
	case c.Quantum < 0:
		return fmt.Errorf("cluster quantum %v: must not be negative: %w", c.Quantum, ebb.ErrInvalid)
	case c.Tick <= 0:
		return fmt.Errorf("cluster tick %v: must be positive: %w", c.Tick, ebb.ErrInvalid)
	case c.MaxPending < 0:
		return fmt.Errorf("cluster max pending %d: must not be negative: %w", c.MaxPending, ebb.ErrInvalid)
	case c.RetryMinWait < 0 || c.RetryMaxWait < c.RetryMinWait:
		return fmt.Errorf("cluster retry waits %v, %v: must not be negative, max not below min: %w", c.RetryMinWait, c.RetryMaxWait, ebb.ErrInvalid)
	case c.StallTimeout < 0:
		return fmt.Errorf("cluster stall timeout %v: must not be negative: %w", c.StallTimeout, ebb.ErrInvalid)
	}
	return nil
}

// shapePrice returns what a worker of shape costs per minute.
func (c Cluster) shapePrice(shape ebb.Resources) float64 { return c.Price * shape[ebb.CPU] }

// packShapes returns the cluster's shapes as cluster.Pack sees them,
// named in order so that ties go to the earlier one.
func (c Cluster) packShapes() []cluster.Shape {
	out := make([]cluster.Shape, len(c.Shapes))
	for i, s := range c.Shapes {
		out[i] = cluster.Shape{Name: fmt.Sprintf("s%09d", i), Resources: s, Price: c.shapePrice(s)}
	}
	return out
}
