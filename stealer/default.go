package stealer

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
)

// DefaultConfig configures the [Default] policy. The zero value asks for
// the defaults, each given below with the reason for it; a negative value
// is invalid.
type DefaultConfig struct {
	// LatencyPrior is how long an allocation is assumed to take before
	// any has been observed. Default 30 s: between a container (~10 s)
	// and a VM (~90 s); too low and the first burst buys capacity for
	// work that would be done before it came, too high and it waits on
	// held capacity that a new alloc would have beaten. Once allocations
	// have been granted, the median of the observed latencies is used
	// instead, raised to the age of the oldest request still in flight
	// (a request that has waited that long says the cluster is slower
	// than the samples).
	LatencyPrior time.Duration

	// TaskDuration is how long a task is assumed to run when the snapshot
	// does not say (Snapshot.TaskDuration is zero). Default 1 min: with
	// the latency prior of 30 s a new alloc is bought as soon as the
	// backlog is more than half a wave of what is held, which scales a
	// burst at once; set it to what your tasks take. Shorter tasks make
	// the policy patient, longer ones eager.
	TaskDuration time.Duration

	// IdleTimeout is how long an alloc stays idle before it is drained.
	// Default 0: follow the latency estimate, clamped to MinIdleTimeout
	// and MaxIdleTimeout. Keeping an idle alloc for as long as a new one
	// takes to arrive is the break-even of ski rental: whatever demand
	// comes next, the idling and re-buying together cost at most twice
	// what the best choice in hindsight would have (a new alloc arrives
	// in L; keeping one idle for L costs as much as waiting L for one).
	// A fixed value overrides the estimate (and the clamps).
	IdleTimeout time.Duration

	// MinIdleTimeout and MaxIdleTimeout clamp the idle timeout that
	// follows the latency. Defaults 10 s (ten ticks: a pause between two
	// stages of a flow, or between a task finishing and the next one
	// becoming ready, does not give up capacity even when allocs come
	// back at once) and 10 min (a very slow cluster does not keep idle
	// allocs for ever).
	MinIdleTimeout, MaxIdleTimeout time.Duration

	// MaxPending caps the requests in flight, counting those the plan
	// keeps and adds. Default 16: enough to scale a burst in one tick at
	// MaxWidth 16 (256 tasks' worth), few enough that a cluster that
	// cannot keep up is not buried under requests.
	MaxPending int

	// MaxAllocs caps the auxiliary allocs held and asked for together.
	// Default 64: a bound on what a runaway flow can cost; raise it for
	// big clusters.
	MaxAllocs int

	// MaxWidth caps how many task-sized units one request asks for
	// (Requirements.Width). Default 16: one request is one alloc, which
	// a cluster grants on one node, so a request much wider than a node
	// would be cut down to what fits the node anyway.
	MaxWidth int

	// MaxRequest, when set, caps what one request asks for: every
	// request's Max fits in it, except that a task bigger than MaxRequest
	// still gets a request of its own (Width 1), since nothing else could
	// run it. As everywhere, a key it lacks counts as 0, so give it every
	// key your tasks use (a node's shape is a good MaxRequest). Default
	// nil: no cap beyond MaxWidth.
	MaxRequest ebb.Resources

	// ThrashMemory is how long a re-buy widens the idle timeout. A
	// re-buy is an acquisition asked for less than twice the idle timeout
	// after a release: capacity given up too early. Each re-buy within
	// ThrashMemory doubles the idle timeout, up to MaxWiden times it;
	// as re-buys age past ThrashMemory the timeout narrows back. Default
	// 15 min: long enough to span a few cycles of a periodic load.
	ThrashMemory time.Duration

	// MaxWiden caps the widening factor of the idle timeout. Default 8
	// (three re-buys); 1 turns widening off.
	MaxWiden int
}

func (c *DefaultConfig) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.LatencyPrior, 30*time.Second)
	def(&c.TaskDuration, time.Minute)
	def(&c.MinIdleTimeout, 10*time.Second)
	def(&c.MaxIdleTimeout, 10*time.Minute)
	def(&c.ThrashMemory, 15*time.Minute)
	defInt := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	defInt(&c.MaxPending, 16)
	defInt(&c.MaxAllocs, 64)
	defInt(&c.MaxWidth, 16)
	defInt(&c.MaxWiden, 8)
}

func (c *DefaultConfig) validate() error {
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"LatencyPrior", c.LatencyPrior}, {"TaskDuration", c.TaskDuration},
		{"IdleTimeout", c.IdleTimeout}, {"MinIdleTimeout", c.MinIdleTimeout},
		{"MaxIdleTimeout", c.MaxIdleTimeout}, {"ThrashMemory", c.ThrashMemory},
	} {
		if f.v < 0 {
			return fmt.Errorf("stealer: default policy: %s %v: must not be negative: %w", f.name, f.v, ebb.ErrInvalid)
		}
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"MaxPending", c.MaxPending}, {"MaxAllocs", c.MaxAllocs}, {"MaxWidth", c.MaxWidth}, {"MaxWiden", c.MaxWiden},
	} {
		if f.v < 0 {
			return fmt.Errorf("stealer: default policy: %s %d: must not be negative: %w", f.name, f.v, ebb.ErrInvalid)
		}
	}
	if err := c.MaxRequest.Validate(); err != nil {
		return fmt.Errorf("stealer: default policy: MaxRequest: %w", err)
	}
	return nil
}

// Default is ebb's default [Policy]. At every snapshot it:
//
//  1. places the demand on the free capacity of allocs just granted (held,
//     not working yet) and then on the requests in flight, oldest first,
//     each counted at its Max; only what is left counts as backlog;
//  2. cancels every request in flight that got none of the demand: its
//     demand is gone (done, or taken by capacity that came first);
//  3. drains every held alloc that works, runs nothing, and has been idle
//     for the idle timeout (see IdleTimeout);
//  4. estimates how long the backlog takes to start on what is held (the
//     allocs that work and are not draining, the run's primary included):
//     a shape's tasks start at the rate its slots on held capacity free up,
//     slots ÷ task duration; shapes are taken largest first;
//  5. buys only the part of the backlog that would still be waiting when a
//     new alloc arrives (after the latency estimate): when the backlog
//     starts within that time on held capacity, it buys nothing and says
//     so in Plan.Hold;
//  6. packs what it buys into requests, largest shapes first: a request's
//     Min is one task shape, its Width how many such units it wants (at
//     most MaxWidth, and its Max within MaxRequest); smaller shapes join a
//     request whose unit fits them, several to a unit when they can;
//  7. stops at MaxPending requests in flight and MaxAllocs allocs held and
//     asked for, and says so in Plan.Hold.
//
// The idle timeout widens when the policy sees itself re-buying what it
// released (see ThrashMemory), and narrows back as that ages.
//
// Default is a value computed from its config alone: its Plan is pure and
// safe for concurrent use. The policy handles badly a load whose task
// durations differ widely from TaskDuration (or Snapshot.TaskDuration), and
// requests that clusters grant much smaller than their Max: both make it
// buy in several steps rather than one.
type Default struct {
	cfg DefaultConfig
}

// NewDefault returns the default policy configured by cfg, its zero fields
// set to their defaults. It fails with an error wrapping ebb.ErrInvalid that
// names the field when a value is negative or MaxRequest is invalid.
func NewDefault(cfg DefaultConfig) (*Default, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	if cfg.IdleTimeout == 0 && cfg.MinIdleTimeout > cfg.MaxIdleTimeout {
		return nil, fmt.Errorf("stealer: default policy: MinIdleTimeout %v above MaxIdleTimeout %v: %w",
			cfg.MinIdleTimeout, cfg.MaxIdleTimeout, ebb.ErrInvalid)
	}
	cfg.MaxRequest = cfg.MaxRequest.Clone()
	if len(cfg.MaxRequest) == 0 {
		cfg.MaxRequest = nil
	}
	return &Default{cfg: cfg}, nil
}

var _ Policy = (*Default)(nil)

// Config returns the policy's configuration, with the defaults filled in.
// The MaxRequest it holds is a fresh copy.
func (d *Default) Config() DefaultConfig {
	c := d.cfg
	c.MaxRequest = c.MaxRequest.Clone()
	if len(c.MaxRequest) == 0 {
		c.MaxRequest = nil
	}
	return c
}

// Latency returns how long the policy expects an allocation to take, given
// s: the median of s.Latency (LatencyPrior when empty), raised to the age
// of the oldest request in flight.
func (d *Default) Latency(s Snapshot) time.Duration {
	est := d.cfg.LatencyPrior
	if len(s.Latency) > 0 {
		xs := slices.Clone(s.Latency)
		slices.Sort(xs)
		n := len(xs)
		est = xs[n/2]
		if n%2 == 0 {
			est = xs[n/2-1] + (xs[n/2]-xs[n/2-1])/2
		}
		est = max(est, 0)
	}
	for _, p := range s.Pending {
		est = max(est, s.Now.Sub(p.Since))
	}
	return est
}

// IdleTimeout returns how long a held alloc may stay idle before the
// policy drains it, given s: the base timeout (IdleTimeout, or the latency
// estimate clamped to MinIdleTimeout and MaxIdleTimeout) times the widening
// earned by recent re-buys. It also returns the number of re-buys counted.
func (d *Default) IdleTimeout(s Snapshot) (timeout time.Duration, rebuys int) {
	base := d.baseIdle(d.Latency(s))
	rebuys = d.rebuys(s, base)
	widen := int64(d.cfg.MaxWiden)
	if rebuys < 62 {
		widen = min(widen, int64(1)<<rebuys)
	}
	return base * time.Duration(max(1, widen)), rebuys
}

func (d *Default) baseIdle(latency time.Duration) time.Duration {
	if d.cfg.IdleTimeout > 0 {
		return d.cfg.IdleTimeout
	}
	return min(max(latency, d.cfg.MinIdleTimeout), d.cfg.MaxIdleTimeout)
}

// rebuys counts the acquisitions of the last ThrashMemory that were asked
// for less than twice the base idle timeout after a release.
func (d *Default) rebuys(s Snapshot, base time.Duration) int {
	window := 2 * base
	n := 0
	for _, a := range s.Recent {
		if a.Kind != Acquired || a.Time.After(s.Now) || s.Now.Sub(a.Time) > d.cfg.ThrashMemory {
			continue
		}
		for _, r := range s.Recent {
			if r.Kind == Released && !r.Time.After(a.Time) && a.Time.Sub(r.Time) < window {
				n++
				break
			}
		}
	}
	return n
}

// Plan decides what to buy, cancel and drain; see [Default].
func (d *Default) Plan(s Snapshot) Plan {
	var p Plan
	latency := d.Latency(s)
	taskDur := s.TaskDuration
	if taskDur <= 0 {
		taskDur = d.cfg.TaskDuration
	}

	// Drain the allocs idle past the timeout.
	idle, rebuys := d.IdleTimeout(s)
	drained := make(map[string]bool)
	for _, h := range s.Held {
		if !h.Working || h.Draining || h.Running > 0 || h.IdleSince.IsZero() || drained[h.ID] {
			continue
		}
		if idleFor := s.Now.Sub(h.IdleSince); idleFor >= idle {
			drained[h.ID] = true
			reason := fmt.Sprintf("drained alloc %s: idle %s", h.ID, fmtDur(idleFor))
			if rebuys > 0 {
				reason += fmt.Sprintf(" (idle timeout %s, widened after %s)", fmtDur(idle), plural(rebuys, "re-buy"))
			} else {
				reason += fmt.Sprintf(" (idle timeout %s)", fmtDur(idle))
			}
			p.Drain = append(p.Drain, Drain{AllocID: h.ID, Reason: reason})
		}
	}

	// Place the demand on allocs about to work, then on requests in
	// flight, oldest first.
	demand := groups(s.Demand)
	var starting []ebb.Resources
	for _, h := range s.Held {
		if !h.Working && !h.Draining {
			starting = append(starting, h.Free)
		}
	}
	rest, _ := place(demand, starting)
	pending := slices.Clone(s.Pending)
	slices.SortStableFunc(pending, func(a, b Pending) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	bins := make([]ebb.Resources, len(pending))
	for i, r := range pending {
		bins[i] = r.Requirements.Max()
	}
	backlog, placed := place(rest, bins)
	kept := 0
	for i, r := range pending {
		if placed[i] > 0 {
			kept++
			continue
		}
		reason := fmt.Sprintf("cancelled request %s (%s): demand gone", r.ID, r.Requirements)
		if n := tasks(demand); n > 0 {
			reason += fmt.Sprintf(" (the %s waiting go to held allocs and older requests)", plural(n, "task"))
		}
		p.Cancel = append(p.Cancel, Cancel{ID: r.ID, Reason: reason})
	}
	if len(backlog) == 0 {
		if n := tasks(demand); n > 0 {
			p.Hold = fmt.Sprintf("held: %s waiting, covered by %s in flight and %s starting",
				plural(n, "task"), plural(kept, "request"), plural(len(starting), "new alloc"))
		}
		return p
	}

	// How long the backlog takes to start on held capacity, and what of it
	// would still wait when a new alloc arrives.
	var caps []ebb.Resources
	for _, h := range s.Held {
		if !h.Draining && !drained[h.ID] {
			caps = append(caps, h.Resources)
		}
	}
	for _, h := range s.Others {
		if !h.Draining {
			caps = append(caps, h.Resources)
		}
	}
	budget := latency.Seconds()
	var (
		drainSecs float64 // to start the runnable backlog on held capacity
		buy       []group
		runnable  = make(map[string]bool) // shape text → held capacity can run it
	)
	for _, g := range backlog {
		n := slots(g.shape, caps)
		if n == 0 {
			buy = append(buy, g)
			continue
		}
		runnable[g.shape.String()] = true
		t := float64(g.count) * taskDur.Seconds() / float64(n)
		drainSecs += t
		if t <= budget {
			budget -= t
			continue
		}
		started := int(math.Floor(budget * float64(n) / taskDur.Seconds()))
		budget = 0
		if left := g.count - started; left > 0 {
			buy = append(buy, group{shape: g.shape, count: left})
		}
	}
	why := fmt.Sprintf("backlog drains in %s on held capacity, allocation takes %s",
		fmtDur(time.Duration(min(drainSecs, maxSecs)*float64(time.Second))), fmtDur(latency))
	if len(buy) == 0 {
		p.Hold = fmt.Sprintf("held: %s waiting: %s", plural(tasks(backlog), "task"), why)
		return p
	}

	// Pack what to buy into requests, within the caps.
	limit := min(d.cfg.MaxPending-kept, d.cfg.MaxAllocs-len(s.Held)-kept)
	reqs, left := d.pack(buy, max(0, limit))
	for _, r := range reqs {
		tail := why
		for _, f := range r.serves {
			if !runnable[f.shape.String()] {
				tail = "nothing held can run them"
				break
			}
		}
		req := ebb.Requirements{Min: r.min.Clone(), Width: r.width}
		p.Acquire = append(p.Acquire, Request{
			Requirements: req,
			For:          demandOf(r.serves),
			Reason: fmt.Sprintf("requested %s for %s: %s",
				req.Max(), plural(tasks(r.serves), "waiting task"), tail),
		})
	}
	if left > 0 {
		var cap string
		switch {
		case kept+len(reqs) >= d.cfg.MaxPending:
			cap = fmt.Sprintf("%s in flight (MaxPending %d)", plural(kept+len(reqs), "request"), d.cfg.MaxPending)
		default:
			cap = fmt.Sprintf("%s held and asked for (MaxAllocs %d)", plural(len(s.Held)+kept+len(reqs), "alloc"), d.cfg.MaxAllocs)
		}
		p.Hold = fmt.Sprintf("held: %s more would be bought, but %s", plural(left, "task"), cap)
	}
	return p
}

// newRequest is a request being packed.
type newRequest struct {
	min      ebb.Resources
	width    int
	maxWidth int
	serves   []group // the tasks it is for
}

// pack packs the tasks of buy into at most limit requests. It returns
// them and the number of tasks that did not fit.
func (d *Default) pack(buy []group, limit int) (reqs []*newRequest, left int) {
	for _, g := range buy {
		n := g.count
		// Join a request whose unit fits the shape.
		for _, r := range reqs {
			if n == 0 {
				break
			}
			room := r.maxWidth - r.width
			if room <= 0 || !g.shape.Fits(r.min) {
				continue
			}
			per := max(1, fitCount(g.shape, r.min, maxSlots))
			units := min(room, (n+per-1)/per)
			take := min(n, units*per)
			r.width += units
			r.serves = addGroup(r.serves, g.shape, take)
			n -= take
		}
		for n > 0 && len(reqs) < limit {
			w := d.maxWidth(g.shape)
			units := min(n, w)
			reqs = append(reqs, &newRequest{
				min: g.shape, width: units, maxWidth: w,
				serves: []group{{shape: g.shape, count: units}},
			})
			n -= units
		}
		left += n
	}
	return reqs, left
}

// maxWidth returns how many units of shape one request may ask for.
func (d *Default) maxWidth(shape ebb.Resources) int {
	w := d.cfg.MaxWidth
	if d.cfg.MaxRequest != nil {
		w = fitCount(shape, d.cfg.MaxRequest, w)
	}
	return max(1, w)
}

func addGroup(gs []group, shape ebb.Resources, n int) []group {
	for i := range gs {
		if gs[i].shape.Equal(shape) {
			gs[i].count += n
			return gs
		}
	}
	return append(gs, group{shape: shape, count: n})
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "s") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// fmtDur formats d for a reason: whole seconds from a second up,
// milliseconds below.
func fmtDur(d time.Duration) string {
	if d >= time.Second || d <= -time.Second {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Millisecond).String()
}

// maxSecs bounds the drain times printed, so that a huge backlog does not
// overflow a time.Duration (about 292 years).
const maxSecs = 100 * 365 * 24 * 3600
