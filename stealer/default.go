package stealer

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
)

// DefaultConfig configures the [Default] policy. The zero value asks for
// the defaults, each given below with the reason for it; a negative value
// is invalid. BENCHMARKS.md holds what each default was measured to do on
// the simulator's workloads, and the command that measured it.
type DefaultConfig struct {
	// LatencyPrior is how long an allocation is assumed to take before
	// any has been observed. Default 30 s: between a container (~10 s)
	// and a VM (~90 s). Once allocations have been granted, the median
	// of the observed latencies is used instead, raised to the age of
	// the oldest request still in flight (a request that has waited that
	// long says the cluster is slower than the samples).
	LatencyPrior time.Duration

	// TaskDuration is how long a task is assumed to run when the snapshot
	// does not say (Snapshot.TaskDuration is zero). Default 1 min: with
	// the latency prior a burst is bought for at once, and only the first
	// plans use it. Set it to what your tasks take: shorter makes the
	// policy patient, longer eager.
	TaskDuration time.Duration

	// Patience is how much longer than an allocation takes a task may
	// wait before the policy buys capacity for it: it buys for the part
	// of the backlog that would not start on held capacity within the
	// latency estimate plus Patience. Default 0: four times the typical
	// latency, so that a new alloc, whose boot is paid whether it is
	// used or not, saves each task it is bought for at least four boots
	// of waiting. It applies only once tasks have been seen to finish
	// (Snapshot.TaskDuration set), since a guessed duration can be far
	// off. A tiny value (1 ns) turns it off.
	Patience time.Duration

	// IdleTimeout, when set, is how long an alloc stays idle before it
	// is drained, widened by re-buys up to MaxWiden times. Default 0:
	// start at MinIdleTimeout and earn a longer one, as below.
	IdleTimeout time.Duration

	// MinIdleTimeout is the idle timeout while no re-buy is remembered.
	// Default 2 s (two ticks): most capacity a batch run gives back is
	// not wanted again soon, and a task finishing and its dependents
	// starting happen within a tick. Each re-buy the policy sees (see
	// ThrashMemory) doubles the timeout, up to the latency estimate:
	// keeping an idle alloc for as long as a new one takes to arrive is
	// the break-even of ski rental, and keeping it longer never pays.
	//
	// MaxIdleTimeout caps the default idle timeout however it is
	// widened. Default 10 min: a very slow cluster does not keep idle
	// allocs for ever.
	MinIdleTimeout, MaxIdleTimeout time.Duration

	// MaxPending caps the requests in flight, counting those the plan
	// keeps and adds. Default 64, the Stealer's own cap: a burst is
	// bought in one tick, and a cluster that cannot keep up holds the
	// rest in its queue, which costs nothing until they launch.
	MaxPending int

	// MaxAllocs caps the auxiliary allocs held and asked for together.
	// Default 64: a bound on what a runaway flow can cost; raise it for
	// big clusters.
	MaxAllocs int

	// MaxWidth caps how many task-sized units one request asks for
	// (Requirements.Width). Default 16: one request is one alloc on one
	// node, so a much wider request is cut to the node anyway. A
	// narrower cap trades speed for waste, most when a few tasks run far
	// longer than the rest, since each keeps its whole alloc alive.
	MaxWidth int

	// MaxRequest, when set, caps what one request asks for: every
	// request's Max fits in it, except that a task bigger than MaxRequest
	// still gets a request of its own (Width 1), since nothing else could
	// run it. As everywhere, a key it lacks counts as 0, so give it every
	// key your tasks use (a node's shape is a good MaxRequest). Default
	// nil: no cap beyond MaxWidth.
	MaxRequest ebb.Resources

	// ThrashMemory is how long a re-buy widens the idle timeout. A
	// re-buy is an acquisition asked for soon after a release: less than
	// the latency estimate (or twice the base idle timeout, if longer)
	// after it, when keeping the alloc would have cost less than buying
	// it again. Each release counts once, however many acquisitions
	// follow it; as re-buys age past ThrashMemory the timeout narrows
	// back. Default 15 min: long enough to span a few cycles of a
	// periodic load.
	ThrashMemory time.Duration

	// MaxWiden caps the widening factor of a fixed IdleTimeout. Default
	// 8 (three re-buys); 1 turns widening off. The default idle timeout
	// widens up to the latency estimate instead (see MinIdleTimeout).
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
	def(&c.MinIdleTimeout, 2*time.Second)
	def(&c.MaxIdleTimeout, 10*time.Minute)
	def(&c.ThrashMemory, 15*time.Minute)
	defInt := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	defInt(&c.MaxPending, 64)
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
		{"Patience", c.Patience}, {"IdleTimeout", c.IdleTimeout}, {"MinIdleTimeout", c.MinIdleTimeout},
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
//     each counted at what the cluster is expected to grant it: its Max,
//     unless the cluster was seen to cut requests down (several allocs
//     asked for together and granted alike, in Snapshot.Recent), and
//     then as many of its units as such an alloc holds; only what is
//     left counts as backlog;
//  2. cancels every request in flight that got none of the demand: its
//     demand is gone (done, or taken by capacity that came first);
//  3. drains every held alloc that works, runs nothing, and has been idle
//     for the idle timeout (see MinIdleTimeout);
//  4. estimates how long the backlog takes to start on what is held (the
//     allocs that work and are not draining, the run's primary included):
//     a shape's tasks start at the rate its slots on held capacity free up,
//     slots ÷ task duration, the duration being the demand's own estimate
//     for its tasks' kinds (see [Durations]) when it has one; shapes are
//     taken largest first;
//  5. buys only the part of the backlog that would still be waiting when a
//     new alloc arrives (after the latency estimate) and, once task
//     durations are known, a while longer (see Patience): when the backlog
//     starts within that time on held capacity, it buys nothing and says
//     so in Plan.Hold;
//  6. packs what it buys into requests, largest shapes first: a request's
//     Min is one task shape, its Width how many such units it wants (at
//     most MaxWidth, and its Max within MaxRequest), and it is made for as
//     many tasks as it is expected to be granted units (as in 1); smaller
//     shapes join a request whose unit fits them, several to a unit when
//     they can;
//  7. stops at MaxPending requests in flight and MaxAllocs allocs held and
//     asked for, and says so in Plan.Hold.
//
// The idle timeout starts short and widens when the policy sees itself
// re-buying what it released (see MinIdleTimeout and ThrashMemory), and
// narrows back as that ages.
//
// A plan costs time in the number of runs of alike allocs and alike
// requests (a thousand allocs of one shape are one run), plus one look at
// each (BENCHMARKS.md has the figures at 10,000 allocs).
//
// Default is a value computed from its config alone: its Plan is pure and
// safe for concurrent use. The policy handles badly a load whose task
// durations differ widely from TaskDuration (or Snapshot.TaskDuration):
// before any task has finished it buys on that guess. It cannot reorder
// tasks, so a long task far down a burst's queue sets the makespan
// whatever it buys; and it cannot move running tasks, so a few tasks far
// longer than the rest keep their wide allocs alive (see MaxWidth).
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

// Plan decides what to buy, cancel and drain; see [Default]. Each step
// of the doc comment is one method below, taking and returning values.
func (d *Default) Plan(s Snapshot) Plan {
	latency := d.Latency(s)
	var p Plan
	p.Drain = d.drainIdle(s, latency)
	c := d.creditPending(s)
	p.Cancel = c.cancel
	if len(c.backlog) == 0 {
		if n := tasks(c.demand); n > 0 {
			p.Hold = fmt.Sprintf("held: %s waiting, covered by %s in flight and %s starting",
				plural(n, "task"), plural(c.kept, "request"), plural(c.starting, "new alloc"))
		}
		return p
	}
	b := d.toBuy(s, c.backlog, p.Drain, latency)
	if len(b.buy) == 0 {
		p.Hold = fmt.Sprintf("held: %s waiting: %s", plural(tasks(c.backlog), "task"), b.why)
		return p
	}
	p.Acquire, p.Hold = d.requests(s, b, c.kept)
	return p
}

// drainIdle is step 3: a drain for every held alloc that works, runs
// nothing, and has been idle for the idle timeout.
func (d *Default) drainIdle(s Snapshot, latency time.Duration) []Drain {
	idle, rebuys := d.idleTimeout(s, latency)
	var out []Drain
	for _, h := range s.Held {
		if !h.Working || h.Draining || h.Running > 0 || h.IdleSince.IsZero() {
			continue
		}
		idleFor := s.Now.Sub(h.IdleSince)
		if idleFor < idle {
			continue
		}
		reason := fmt.Sprintf("drained alloc %s: idle %s", h.ID, fmtDur(idleFor))
		if rebuys > 0 {
			reason += fmt.Sprintf(" (idle timeout %s, widened after %s)", fmtDur(idle), plural(rebuys, "re-buy"))
		} else {
			reason += fmt.Sprintf(" (idle timeout %s)", fmtDur(idle))
		}
		out = append(out, Drain{AllocID: h.ID, Reason: reason})
	}
	return out
}

// credited is what creditPending found.
type credited struct {
	demand   []group  // all of the snapshot's demand
	backlog  []group  // what neither allocs starting nor requests cover
	cancel   []Cancel // requests that cover none of it
	kept     int      // requests that cover some
	starting int      // allocs held but not working yet
}

// creditPending is steps 1 and 2: it places the demand on allocs just
// granted (held, not working yet), then on the requests in flight, oldest
// first, each counted at what the cluster is expected to grant it (see
// credit); what is left is the backlog, and a request that got none of the
// demand is cancelled.
func (d *Default) creditPending(s Snapshot) credited {
	c := credited{demand: groups(s.Demand)}
	var starting []bin
	for _, h := range s.Held {
		if !h.Working && !h.Draining {
			starting = addBin(starting, h.Free, 1)
		}
	}
	c.starting = count(starting)
	rest, _ := placeBins(c.demand, starting)

	pending := s.Pending
	byAge := func(a, b Pending) int { return a.Since.Compare(b.Since) }
	if !slices.IsSortedFunc(pending, byAge) {
		pending = slices.Clone(pending)
		slices.SortStableFunc(pending, byAge)
	}
	grant := grantCap(s)
	var bins []bin
	for i := 0; i < len(pending); {
		r := pending[i].Requirements
		j := i + 1
		for j < len(pending) && pending[j].Requirements.Width == r.Width && equal(pending[j].Requirements.Min, r.Min) {
			j++
		}
		units := credit(r.Min, max(1, r.Width), grant)
		bins = append(bins, bin{free: r.Min.Scale(float64(units)), n: j - i})
		i = j
	}
	backlog, placed := placeBins(rest, bins)
	c.backlog = backlog
	k := 0 // index in pending
	for _, b := range placed {
		for range b.n {
			r := pending[k]
			k++
			if b.placed > 0 {
				c.kept++
				continue
			}
			reason := fmt.Sprintf("cancelled request %s (%s): demand gone", r.ID, r.Requirements)
			if n := tasks(c.demand); n > 0 {
				reason += fmt.Sprintf(" (the %s waiting go to held allocs and older requests)", plural(n, "task"))
			}
			c.cancel = append(c.cancel, Cancel{ID: r.ID, Reason: reason})
		}
	}
	return c
}

// purchase is what toBuy found.
type purchase struct {
	buy      []group         // what to buy for
	why      string          // the drain estimate, for reasons
	runnable map[string]bool // shape text → held capacity can run it
}

// toBuy is steps 4 and 5: it estimates how long the backlog takes to
// start on held capacity (the allocs that work and are not draining nor
// drained by this plan, the primary included), a shape's tasks starting
// at the rate its slots free up (slots ÷ task duration: the demand's own
// estimate for its tasks' kinds when it has one, else the snapshot's
// TaskDuration, else the configured guess), largest shapes first, and
// returns the part that would still wait when a new alloc
// arrives (after the latency estimate, plus the patience once task
// durations are known).
func (d *Default) toBuy(s Snapshot, backlog []group, drains []Drain, latency time.Duration) purchase {
	taskDur := s.TaskDuration
	if taskDur <= 0 {
		taskDur = d.cfg.TaskDuration
	}
	drained := make(map[string]bool, len(drains))
	for _, dr := range drains {
		drained[dr.AllocID] = true
	}
	var caps []bin
	for _, h := range s.Held {
		if !h.Draining && !drained[h.ID] {
			caps = addBin(caps, h.Resources, 1)
		}
	}
	for _, h := range s.Others {
		if !h.Draining {
			caps = addBin(caps, h.Resources, 1)
		}
	}
	var patience time.Duration
	if s.TaskDuration > 0 {
		patience = d.patience(s)
	}
	budget := (latency + patience).Seconds()
	drainSecs := 0.0 // to start the runnable backlog on held capacity
	p := purchase{runnable: make(map[string]bool)}
	first := true
	for _, g := range backlog {
		n := slots(g.shape, caps)
		if n == 0 {
			p.buy = append(p.buy, g)
			continue
		}
		p.runnable[g.shape.String()] = true
		dur := taskDur
		switch {
		case g.dur > 0 && !g.bound:
			dur = g.dur // the evaluation's estimate for these tasks' kinds
		case g.dur > 0:
			// Tasks of their kinds have run this long and none has
			// finished: at least that, and at least the guess, since the
			// durations of other kinds say nothing of these.
			dur = max(g.dur, d.cfg.TaskDuration)
		}
		t := float64(g.count) * dur.Seconds() / float64(n)
		if first {
			// Held capacity comes free as its running tasks end: on
			// average in half a task's time when they are as far along
			// as a steady flow's, later when they have just begun.
			t += max(0, s.Remaining.Seconds()-dur.Seconds()/2)
			first = false
		}
		drainSecs += t
		if t <= budget {
			budget -= t
			continue
		}
		started := int(math.Floor(budget * float64(n) / dur.Seconds()))
		budget = 0
		if left := g.count - started; left > 0 {
			p.buy = append(p.buy, group{shape: g.shape, count: left, dur: g.dur, bound: g.bound})
		}
	}
	p.why = fmt.Sprintf("backlog drains in %s on held capacity, allocation takes %s",
		fmtDur(time.Duration(min(drainSecs, maxSecs)*float64(time.Second))), fmtDur(latency))
	if patience > 0 {
		p.why += fmt.Sprintf(", patience %s", fmtDur(patience))
	}
	return p
}

// requests is steps 6 and 7: it packs what b buys into requests within
// MaxPending and MaxAllocs (kept requests in flight count against both)
// and, when the caps leave some of it unbought, says so in a hold.
func (d *Default) requests(s Snapshot, b purchase, kept int) ([]Request, string) {
	grant := grantCap(s)
	limit := min(d.cfg.MaxPending-kept, d.cfg.MaxAllocs-len(s.Held)-kept)
	reqs, left := d.pack(b.buy, max(0, limit), grant)
	out := make([]Request, 0, len(reqs))
	for _, r := range reqs {
		tail := b.why
		for _, f := range r.serves {
			if !b.runnable[f.shape.String()] {
				tail = "nothing held can run them"
				break
			}
		}
		req := ebb.Requirements{Min: r.min.Clone(), Width: r.width}
		expect := ""
		if r.used < r.width {
			expect = fmt.Sprintf(" (%d of %d units expected: allocs granted lately hold %s)", r.used, r.width, grant)
		}
		out = append(out, Request{
			Requirements: req,
			For:          demandOf(r.serves),
			Reason: fmt.Sprintf("requested %s for %s%s: %s",
				req.Max(), plural(tasks(r.serves), "waiting task"), expect, tail),
		})
	}
	if left == 0 {
		return out, ""
	}
	limited := fmt.Sprintf("%s held and asked for (MaxAllocs %d)", plural(len(s.Held)+kept+len(reqs), "alloc"), d.cfg.MaxAllocs)
	if kept+len(reqs) >= d.cfg.MaxPending {
		limited = fmt.Sprintf("%s in flight (MaxPending %d)", plural(kept+len(reqs), "request"), d.cfg.MaxPending)
	}
	return out, fmt.Sprintf("held: %s more would be bought, but %s", plural(left, "task"), limited)
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
