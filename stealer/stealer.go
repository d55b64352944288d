package stealer

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/grailbio/base/status"
)

// An Allocator is where a [Stealer] takes auxiliary allocs from: all it
// asks of a cluster.Cluster. Allocate must block until it grants an alloc
// that satisfies req, or fail; when ctx is done it must return promptly
// and leave nothing allocated.
type Allocator interface {
	Allocate(ctx context.Context, req ebb.Requirements, labels ebb.Labels) (pool.Alloc, error)
}

// A Sizer is an [Allocator] that says, without blocking, the most one
// alloc can hold on each kind of node it has: a cluster.Elastic says so
// of its worker shapes. A Stealer puts what it says in Snapshot.Nodes, so
// that a policy asks for no more than a node holds. The result is the
// caller's.
type Sizer interface {
	Sizes() []ebb.Resources
}

// Config configures a [Stealer]. Cluster is required; every other field has
// a useful zero value.
type Config struct {
	// Cluster is where auxiliary allocs come from: a cluster.Cluster, or
	// anything else that can Allocate.
	Cluster Allocator

	// Policy decides what to buy, cancel and drain. Default: the
	// [Default] policy with its default config.
	Policy Policy

	// Tick is how often the stealer looks at the evaluation when nothing
	// else wakes it. It also looks at once when Run starts, when an
	// Allocate call returns or an alloc is released, and when Wake is
	// called. Default 1 s: demand that appears is acted on within a
	// second, and the look (a Demand and a Load call, and a Plan) costs
	// little enough to do that often.
	Tick time.Duration

	// MaxPending caps the Allocate calls in flight whatever the policy
	// asks: a safety net under policies that would bury the cluster in
	// requests. The Default policy has a cap of its own. Default 64.
	MaxPending int

	// Labels travel with every Allocate call (the run's ID, the program).
	Labels ebb.Labels

	// FreeTimeout bounds each Free call, and each OnRelease call, even
	// when Run's context is done. An alloc whose Free fails is left to
	// lapse with its lease, which nobody renews any more. Default 1 min.
	FreeTimeout time.Duration

	// RetryMinWait and RetryMaxWait pace new requests after Allocate
	// calls fail, or the Evaluator's Work on a granted alloc does (other
	// than by a loss, a drain or the end of the run): after n failures
	// in a row, nothing new is asked for
	// during RetryMinWait × 2ⁿ⁻¹ (a fifth of it jittered), at most
	// RetryMaxWait. A grant resets the count. Defaults 1 s and 1 min.
	RetryMinWait, RetryMaxWait time.Duration

	// Allocs are auxiliary allocs to take over when Run starts: those a
	// resumed run re-attached (Cluster.Alloc with the IDs its State kept).
	// The stealer works and frees them like its own. OnAcquire is not
	// called for them; OnRelease is.
	Allocs []pool.Alloc

	// Learned is what an earlier stealer observed of the cluster
	// (Stealer.Learned), for the policy's snapshots to start from: the
	// latencies of its requests, granted and cancelled. Those this
	// stealer observes follow them, and push them out past 32.
	Learned Learned

	// OnAcquire, when set, is called with every alloc the stealer is
	// granted, before any work starts on it, from the goroutine that
	// works it, with Run's context. It is the place to record the alloc's
	// ID (in the run's State) so that a driver that crashes can find it
	// again. When it fails, the alloc is freed unused, OnRelease is
	// called, and the failure counts as a failed Allocate (see
	// RetryMinWait). Calls for different allocs may run concurrently.
	OnAcquire func(ctx context.Context, a pool.Alloc) error

	// OnRelease, when set, is called with the ID of every alloc the
	// stealer held once it is freed (Free returned, or failed and the
	// alloc is left to lapse), from the goroutine that worked it, with a
	// context bounded by FreeTimeout. It is the place to forget the ID.
	// Calls may run concurrently.
	OnRelease func(ctx context.Context, allocID string)

	// OnEvent, when set, receives every event (see [Event]). It is called
	// from Run's loop, one event at a time and in order, never
	// concurrently; the loop waits for it, so a slow OnEvent delays the
	// stealer's decisions but never changes them. It must not call back
	// into the Stealer's Run (Wake is fine).
	OnEvent func(Event)

	// Status, when set, shows the stealer's state for people: its
	// status counts the allocs held and the requests in flight, kept
	// current at every event, and each request in flight is a task of
	// the group. Default: none.
	Status *status.Group

	// Logger receives every event as a record ("stealer granted", ...):
	// warnings for failures, lost allocs and rejected plans, information
	// for the rest. Default: discard.
	Logger *slog.Logger
}

func (c *Config) validate() error {
	if c.Cluster == nil {
		return fmt.Errorf("stealer: Cluster is required: %w", ebb.ErrInvalid)
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"Tick", c.Tick}, {"FreeTimeout", c.FreeTimeout}, {"RetryMinWait", c.RetryMinWait}, {"RetryMaxWait", c.RetryMaxWait}} {
		if f.v < 0 {
			return fmt.Errorf("stealer: %s %v: must not be negative: %w", f.name, f.v, ebb.ErrInvalid)
		}
	}
	if c.MaxPending < 0 {
		return fmt.Errorf("stealer: MaxPending %d: must not be negative: %w", c.MaxPending, ebb.ErrInvalid)
	}
	if err := c.Labels.Validate(); err != nil {
		return fmt.Errorf("stealer: Labels: %w", err)
	}
	for i, a := range c.Allocs {
		if a == nil {
			return fmt.Errorf("stealer: Allocs[%d] is nil: %w", i, ebb.ErrInvalid)
		}
	}
	if err := c.Learned.Validate(); err != nil {
		return fmt.Errorf("stealer: Learned.%w", err)
	}
	return nil
}

func (c *Config) setDefaults() error {
	if c.Policy == nil {
		p, err := NewDefault(DefaultConfig{})
		if err != nil {
			return err
		}
		c.Policy = p
	}
	if c.Tick == 0 {
		c.Tick = time.Second
	}
	if c.MaxPending == 0 {
		c.MaxPending = 64
	}
	if c.FreeTimeout == 0 {
		c.FreeTimeout = time.Minute
	}
	if c.RetryMinWait == 0 {
		c.RetryMinWait = time.Second
	}
	if c.RetryMaxWait < c.RetryMinWait {
		c.RetryMaxWait = max(c.RetryMinWait, time.Minute)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Labels = c.Labels.Clone()
	c.Allocs = slices.Clone(c.Allocs)
	return nil
}

// A Stealer sizes the auxiliary part of one evaluation's cluster: it turns
// the evaluation's demand into allocs taken from a Cluster, has the
// evaluation work on each (stealing its ready tasks), and drains and frees
// them when its [Policy] says they are no longer needed. See the package
// documentation for the loop.
//
// A Stealer runs once: make it with New, call Run, and Wake from any
// goroutine while Run is under way.
type Stealer struct {
	cfg     Config
	wake    chan struct{}
	started atomic.Bool

	mu      sync.Mutex
	learned Learned // Config.Learned, and once Run has returned, what it observed
}

// New returns a Stealer for cfg. It fails with an error wrapping
// ebb.ErrInvalid, naming the field, when Cluster is missing, a duration or
// count is negative (a latency of Learned too), a label is invalid, or an
// alloc to take over is nil.
func New(cfg Config) (*Stealer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &Stealer{cfg: cfg, wake: make(chan struct{}, 1), learned: cfg.Learned.clone()}, nil
}

// Wake asks the stealer to look at the evaluation now rather than at its
// next tick: a runner calls it when tasks become ready, so that a burst is
// acted on at once. It never blocks, and wakes that come while the loop is
// busy fold into one. It is safe to call from any goroutine, at any time.
func (s *Stealer) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run sizes ev's auxiliary allocs until ctx is done or ev is: every tick
// (and at once when it starts) it reads ev's Demand and Load, asks the
// policy for a plan, and applies it. Each request is an Allocate call of
// its own, in its own goroutine, cancelled when the plan says so; each
// alloc granted is recorded (OnAcquire) and worked with ev.Work in the same
// goroutine, and freed once Work has returned, never before: an alloc is
// drained first, and a drained alloc's Work returns once the tasks it runs
// have finished, so no busy alloc is ever freed while Run is under way.
//
// Run returns once ev.Done is closed (nil) or ctx is done (ctx's error),
// after cancelling the requests in flight, freeing every alloc it holds
// (their Work, cancelled, puts back what they ran, and the evaluation runs
// it elsewhere) and waiting for every goroutine it started. It fails at
// once, with an error wrapping ebb.ErrInvalid, when ev is nil or when Run
// was called before.
func (s *Stealer) Run(ctx context.Context, ev Evaluator) error {
	if ev == nil {
		return fmt.Errorf("stealer: Run: nil Evaluator: %w", ebb.ErrInvalid)
	}
	if !s.started.CompareAndSwap(false, true) {
		return fmt.Errorf("stealer: Run called twice: a Stealer runs once: %w", ebb.ErrInvalid)
	}
	l := newLoop(&s.cfg, ev, s.wake)
	from := s.Learned() // the loop's own copy
	l.latency, l.waited = from.Latency, from.Cancelled
	err := l.run(ctx)
	s.mu.Lock()
	s.learned = Learned{Latency: l.latency, Cancelled: l.waited}.clone()
	s.mu.Unlock()
	return err
}
