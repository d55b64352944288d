package stealer

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
)

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
//     demand is gone (done, or taken by capacity that came first); work
//     whose moment nobody can tell but that is likely ready within the
//     latency (Upcoming.Likely) keeps the requests it fits on, after
//     the demand, though it buys nothing: cancelled, they would be
//     asked for again when it comes, a latency later;
//  3. drains every held alloc that works, runs nothing, and has been idle
//     for the idle timeout (see MinIdleTimeout), unless the next wave of
//     the flow needs it (Snapshot.Upcoming: tasks that wait only on
//     running ones, and work that ready tasks make ready when they end):
//     work due within the latency that the free capacity of busy allocs
//     cannot take goes to idle allocs first, before the requests in
//     flight, and keeps those that the part of it running at once fits
//     on (tasks due one after another, each done before the next is
//     ready, need one slot between them); work timed to be ready within
//     a re-buy's window past an allocation's latency (the window in
//     which buying back counts as a re-buy, see rebuyWindow) keeps the
//     allocs it would otherwise buy back, and work whose time nobody can
//     tell yet, due within that horizon too, keeps those it would buy
//     back when it comes (those it fits on, when its durations are not
//     known) until they have been idle twice as long as an allocation
//     takes, as does work timed past the horizon that may come within
//     it (Upcoming.Soon: what it waits on ends that soon one time in
//     four) those it fits on; and as long as the work left,
//     list-scheduled on what is held, ends after the longest running
//     chain (Critical.Packed past Critical.End: the flow needs more
//     than is held), when work due within the horizon, within the
//     latency too, keeps every idle alloc it fits on, busy allocs' free
//     capacity counted on for none of it; each alloc kept past its idle
//     timeout is in Plan.Keep, with the rule that keeps it. When every
//     task left to start, ready or behind a running one
//     (Critical.Left), fits at once on the free room of the run's
//     primary and of the busy allocs, an idle alloc has nothing left to
//     run: every idle alloc is drained at once, whatever its timeout,
//     and every request in flight cancelled;
//  4. estimates how long the backlog takes to start on what is held (the
//     allocs that work and are not draining, the run's primary included):
//     a shape's tasks start at the rate its slots on held capacity free up,
//     slots ÷ task duration, the duration being the demand's own estimate
//     for its tasks' kinds (see [Durations]) when it has one, plus, for
//     the ready tasks that head a chain of steps each depending on the
//     one before alone (Upcoming.Follows), and for the upcoming ones
//     counted as waiting (Upcoming.Chain), the chain's work, which holds
//     their slot after them; shapes are taken largest first; before
//     any task has finished, the running ones are taken to run the
//     configured TaskDuration, so that tasks just begun free no slot
//     for that long (Snapshot.Remaining saying how far along they are);
//     when the first shape's tasks are of kinds that run and none of
//     which has finished, those running are taken to run as long as
//     these (at least the guess), and their slots free no sooner; and
//     once every kind's duration is known (Critical.Ranked), no slot
//     frees before the running tasks' expected remaining time;
//  5. buys only the part of the backlog that would still be waiting when a
//     new alloc arrives (after the latency estimate) and, once task
//     durations are known, a while longer (see Patience): when the backlog
//     starts within that time on held capacity, it buys nothing and says
//     so in Plan.Hold; nor, once task durations are known, when a purchase
//     cannot end the flow sooner (Snapshot.Critical): the longest chain
//     through a running task ends after the backlog has started on held
//     capacity and run its own chains out, and after held capacity has
//     run all the work left, its cpus shared and list-scheduled too
//     (Critical.Packed; see runningChainLonger); nor, for a shape,
//     while more of its tasks wait than held capacity has slots for and
//     their kinds have just begun (some run, none has finished, and
//     those running have run less than a 16th of the latency: watched a
//     moment, they tell a second's task from an hour's before a purchase
//     larger than what is held is made on the guess), when the policy is
//     asked again within that 16th (Snapshot.Tick); nor, once every
//     kind's duration is known and every task of the flow (Critical.Ranked
//     and Walked), more cpus than the work left needs to end when its
//     longest chain does (Critical.Cpus, or what is held when its own
//     schedule, Critical.Packed, ends by then; less what is held and
//     what the requests in flight bring), each cpu bought counted at
//     the share of that time left after the latency: past those, capacity ends
//     nothing sooner (see enough); what held capacity cannot run at all
//     is bought still;
//  6. packs what it buys into requests, largest shapes first: a request's
//     Min is one task shape, its Width how many such units it wants (at
//     most MaxWidth, and its Max within MaxRequest), and it is made for as
//     many tasks as it is expected to be granted units (as in 1); smaller
//     shapes join a request whose unit fits them, several to a unit when
//     they can; once every kind's duration is known (Critical.Ranked), a
//     unit's memory and disk are what the largest task waiting of as
//     many cpus needs, when a node holds as many units so raised:
//     placement sends an alloc the tasks that rank highest, whichever it
//     was bought for, and tasks of one kind differ in memory by their
//     inputs; largest shape first, a raised unit would take larger tasks
//     from the small ones it was bought for, which may head long chains
//     nobody can time yet;
//  7. stops at MaxPending requests in flight and MaxAllocs allocs held and
//     asked for, and says so in Plan.Hold.
//
// Upcoming work expected ready within the latency counts as waiting
// already, in steps 1, 2, 4 and 5, less what busy allocs leave free: an
// alloc asked for now comes no sooner, so the policy buys ahead of a wave
// it can time (a stage behind a serial gather), and keeps what it bought
// while the wave is still to come. Once every kind's duration is known
// (Critical.Ranked), untimed work likely ready within the latency
// (Upcoming.Likely) counts so too: what it waits on is timed by known
// durations, only its start is not.
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
	if spare := d.drainSpare(s); spare != nil {
		// Nothing left of the flow needs an idle alloc, nor so any
		// request in flight: the demand is none.
		return Plan{Drain: spare, Cancel: d.creditPending(s, nil, nil).cancel}
	}
	latency := d.Latency(s)
	var p Plan
	idle := d.drainIdle(s, latency)
	whole, peak := d.nextWave(s, latency)
	next, drains := d.idleTakeNextWave(s, whole, peak, idle)
	p.Keep = keepsOf(idle, drains, "work due within an allocation's latency would start on it")
	c := d.creditPending(s, next, netOfBusy(s, likelySoon(s, latency)))
	p.Cancel = c.cancel
	var keeps []Keep
	p.Drain, keeps = d.keepIdle(s, c.backlog, drains, latency)
	p.Keep = append(p.Keep, keeps...)
	if len(c.backlog) == 0 {
		if n := tasks(c.demand); n > 0 {
			p.Hold = fmt.Sprintf("held: %s waiting, covered by %s in flight and %s starting",
				plural(n, "task"), plural(c.kept, "request"), plural(c.starting, "new alloc"))
		}
		return p
	}
	b := d.toBuy(s, c.backlog, p.Drain, latency)
	b = notSooner(s, b)
	b = enough(s, b, c.keptCPU, latency)
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
		if !idleWorking(h) {
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

// idleWorking reports whether h works for the evaluation, takes new work,
// and runs nothing: whether step 3 may drain it.
func idleWorking(h Held) bool {
	return h.Working && !h.Draining && h.Running == 0 && !h.IdleSince.IsZero()
}

// drainSpare is step 3 when nothing left of the flow needs an idle alloc:
// a drain for every idle held alloc at once, whatever its idle timeout,
// when the capacity that stays (the free room of the allocs the policy
// does not hold, the run's primary among them, and of the busy allocs it
// holds) takes at once every task left that does not run, ready or
// behind a running one (Critical.Left). Those tasks start on it as soon
// as they are ready, so an idle alloc would only wait for the flow's
// end, and no re-buy can follow. It returns nil when some task left
// would not fit, when the tasks left are not all known (Critical.Walked)
// or more than Critical lists, when tasks wait that no working alloc can
// place (Snapshot.Demand), and when no alloc is idle.
func (d *Default) drainSpare(s Snapshot) []Drain {
	c := s.Critical
	if !c.Walked || c.Waiting > 0 && c.Left == nil || len(s.Demand) > 0 {
		return nil
	}
	var idle []Held
	for _, h := range s.Held {
		if idleWorking(h) {
			idle = append(idle, h)
		}
	}
	if len(idle) == 0 {
		return nil
	}
	var stay []ebb.Resources
	for _, h := range s.Others {
		if h.Working && !h.Draining {
			stay = append(stay, h.Free)
		}
	}
	for _, h := range s.Held {
		if h.Working && !h.Draining && h.Running > 0 {
			stay = append(stay, h.Free)
		}
	}
	if !fitsAll(groups(c.Left), stay) {
		return nil
	}
	why := "no task is left to start"
	if c.Waiting > 0 {
		why = fmt.Sprintf("the %s left to start fit at once on the capacity that stays", plural(c.Waiting, "task"))
	}
	out := make([]Drain, len(idle))
	for i, h := range idle {
		out[i] = Drain{AllocID: h.ID, Reason: fmt.Sprintf("drained alloc %s: idle %s, and %s", h.ID, fmtDur(s.Now.Sub(h.IdleSince)), why)}
	}
	return out
}

// credited is what creditPending found.
type credited struct {
	demand   []group  // all of the snapshot's demand
	backlog  []group  // what neither allocs starting nor requests cover
	cancel   []Cancel // requests that cover none of it
	kept     int      // requests that cover some
	keptCPU  float64  // what those are expected to bring, in cpus
	starting int      // allocs held but not working yet
}

// creditPending is steps 1 and 2: it places the demand on allocs just
// granted (held, not working yet), then on the requests in flight, oldest
// first, each counted at what the cluster is expected to grant it (see
// credit); what is left is the backlog, and a request that got none of the
// demand, nor of the untimed work likely due (likely, see likelySoon,
// net of what busy allocs leave free), is cancelled.
func (d *Default) creditPending(s Snapshot, next, likely []ebb.Demand) credited {
	demand := s.Demand
	if len(next) > 0 {
		demand = append(slices.Clone(demand), next...)
	}
	c := credited{demand: groups(demand)}
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
	if len(likely) > 0 {
		// Untimed work likely due before the requests come keeps them
		// too, after the demand: it buys nothing new, but a request
		// cancelled for it would be asked for again, a latency later.
		_, placed = placeBins(append(slices.Clone(rest), groups(likely)...), bins)
	}
	k := 0 // index in pending
	for _, b := range placed {
		for range b.n {
			r := pending[k]
			k++
			if b.placed > 0 {
				c.kept++
				q := r.Requirements
				c.keptCPU += float64(credit(q.Min, max(1, q.Width), grant)) * q.Min[ebb.CPU]
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

// requests is steps 6 and 7: it packs what b buys into requests within
// MaxPending and MaxAllocs (kept requests in flight count against both)
// and, when the caps leave some of it unbought, says so in a hold.
func (d *Default) requests(s Snapshot, b purchase, kept int) ([]Request, string) {
	grant := grantCap(s)
	limit := min(d.cfg.MaxPending-kept, d.cfg.MaxAllocs-len(s.Held)-kept)
	var pad []group
	if s.Critical.Ranked {
		// Placement goes by rank (see step 6): units hold any task
		// waiting, and what the next wave brings.
		pad = append(groups(s.Demand), b.buy...)
	}
	reqs, left := d.pack(b.buy, max(0, limit), grant, s.Nodes, pad)
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
