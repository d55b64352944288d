package cluster

import (
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/backoff"
	"github.com/ebbflow/ebb/pool"
)

// ElasticConfig configures an [Elastic] cluster. Only Provider is
// required; every other zero field takes the default its comment gives.
// A negative count or duration is invalid.
type ElasticConfig struct {
	// Provider launches and terminates the workers.
	Provider Provider

	// ID names the cluster as a pool; default "elastic".
	ID string

	// Labels go to every Launch, with the labels that all the requests a
	// launch is for agree on.
	Labels ebb.Labels

	// Allocator sets the Owner recorded in the allocs Allocate takes, and
	// paces how often a waiting Allocate looks again at the workers'
	// offers (capacity freed by an alloc's expiry shows up no other way).
	// Its zero value is fine.
	Allocator pool.Allocator

	// MaxWorkers caps the workers held (launched or adopted, until their
	// termination is done) plus the launches in flight; default 10.
	MaxWorkers int

	// MaxPending caps the launches in flight; default MaxWorkers.
	MaxPending int

	// CostCap caps what the workers alive or launching cost per hour:
	// the sum of their shapes' Price (per minute) times 60. Zero means no
	// cap. A shape that alone costs more is never launched.
	CostCap float64

	// BatchWindow is how long a new request waits before the manager
	// plans launches for it, so that requests arriving together are
	// packed together; default 100 ms.
	BatchWindow time.Duration

	// RunWait is how long an Allocate made before Run has started waits
	// for it before failing with ebb.ErrNotRunning; default 5 s: time
	// enough for `go elastic.Run(ctx)` to be scheduled on a busy
	// machine, short enough that a forgotten Run is reported at once.
	RunWait time.Duration

	// IdleTimeout is how long a worker may hold no allocs before it is
	// terminated; default 1 minute. A stealer above frees an alloc only
	// once it has been idle for the stealer's own idle timeout, so every
	// minute kept here is paid for on top of that; a minute lets a request
	// that comes right after take the worker without a launch, and a
	// resumed driver re-attach to the allocs of a worker adopted at Run's
	// start, which gets this long from then.
	IdleTimeout time.Duration

	// PollInterval is how often the manager asks every worker for its
	// allocs, to tell the idle ones, and bounds each such call; default
	// IdleTimeout/5.
	PollInterval time.Duration

	// BackoffMin and BackoffMax pace the launches of a shape after a
	// failed one: the first failure blocks the shape for BackoffMin, each
	// next one twice as long, up to BackoffMax, with a fifth of each wait
	// jittered. A successful launch clears it. Defaults: 10 s and
	// 5 minutes. The same pacing retries a failed Workers or Terminate.
	BackoffMin, BackoffMax time.Duration

	// ShutdownTimeout bounds how long Run, once its context is done,
	// spends terminating the workers; default 1 minute.
	ShutdownTimeout time.Duration

	// KeepWorkers makes Run leave the workers running when it returns,
	// for a driver that stops in order to be resumed: the next Elastic
	// over the same provider adopts them, and a worker that nobody
	// adopts stops itself once nobody renews its leases.
	KeepWorkers bool

	// OnWorker, when set, is told of every worker launched, up, failed
	// to launch, adopted, lost, stopping, stopped or kept (see
	// WorkerEvent). It is called from the manager and from the launch
	// and terminate goroutines, maybe concurrently, never with the
	// cluster's lock held; it must return quickly and not call back into
	// the Elastic's Run (hand the event to a channel or an
	// runner.EventBus, which never block).
	OnWorker func(WorkerEvent)

	// Status, when set, shows the cluster for people: its status counts
	// the workers up, launching and stopping, and the Allocate calls
	// waiting, each of which is a task of the group while it waits.
	Status *statusGroup

	// Logger receives the cluster's decisions and the failures it
	// absorbs (a launch that failed, a worker that did not answer).
	// Default: none.
	Logger *slog.Logger
}

// withDefaults validates c and returns it with its zero fields filled in.
func (c ElasticConfig) withDefaults() (ElasticConfig, error) {
	if c.Provider == nil {
		return c, fmt.Errorf("elastic config: Provider is nil: %w", ebb.ErrInvalid)
	}
	if err := c.Labels.Validate(); err != nil {
		return c, fmt.Errorf("elastic config: Labels: %w", err)
	}
	if c.MaxWorkers < 0 {
		return c, fmt.Errorf("elastic config: MaxWorkers %d: must not be negative: %w", c.MaxWorkers, ebb.ErrInvalid)
	}
	if c.MaxPending < 0 {
		return c, fmt.Errorf("elastic config: MaxPending %d: must not be negative: %w", c.MaxPending, ebb.ErrInvalid)
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"BatchWindow", c.BatchWindow},
		{"RunWait", c.RunWait},
		{"IdleTimeout", c.IdleTimeout},
		{"PollInterval", c.PollInterval},
		{"BackoffMin", c.BackoffMin},
		{"BackoffMax", c.BackoffMax},
		{"ShutdownTimeout", c.ShutdownTimeout},
	} {
		if f.d < 0 {
			return c, fmt.Errorf("elastic config: %s %v: must not be negative: %w", f.name, f.d, ebb.ErrInvalid)
		}
	}
	if c.CostCap < 0 || math.IsNaN(c.CostCap) || math.IsInf(c.CostCap, 0) {
		return c, fmt.Errorf("elastic config: CostCap %v: must be finite and not negative: %w", c.CostCap, ebb.ErrInvalid)
	}
	if c.ID == "" {
		c.ID = "elastic"
	}
	if c.MaxWorkers == 0 {
		c.MaxWorkers = 10
	}
	if c.MaxPending == 0 {
		c.MaxPending = c.MaxWorkers
	}
	if c.BatchWindow == 0 {
		c.BatchWindow = 100 * time.Millisecond
	}
	if c.RunWait == 0 {
		c.RunWait = 5 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = time.Minute
	}
	if c.PollInterval == 0 {
		c.PollInterval = c.IdleTimeout / 5
	}
	if c.BackoffMin == 0 {
		c.BackoffMin = 10 * time.Second
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = 5 * time.Minute
	}
	if c.BackoffMax < c.BackoffMin {
		return c, fmt.Errorf("elastic config: BackoffMax %v is below BackoffMin %v: %w", c.BackoffMax, c.BackoffMin, ebb.ErrInvalid)
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Labels = c.Labels.Clone()
	return c, nil
}

// failures paces the launches of a failing shape, and retries of
// Workers and Terminate.
func (c ElasticConfig) failures() backoff.Policy {
	return backoff.Policy{Min: c.BackoffMin, Max: c.BackoffMax, Factor: 2, Jitter: 0.2}
}

// retries paces a waiting Allocate's looks at the offers, as
// pool.Allocator does: defaults 10 ms growing by half to 1 s.
func (c ElasticConfig) retries() backoff.Policy {
	p := backoff.Policy{Min: c.Allocator.MinWait, Max: c.Allocator.MaxWait, Factor: 1.5, Jitter: 0.2}
	if p.Min <= 0 {
		p.Min = 10 * time.Millisecond
	}
	if p.Max < p.Min {
		p.Max = max(p.Min, time.Second)
	}
	return p
}

// hourly returns the cost per hour of a price per minute.
func hourly(price float64) float64 { return price * 60 }
