package stealer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/backoff"
	"github.com/ebbflow/ebb/pool"
	"github.com/grailbio/base/status"
)

// History sizes: how much of the past a Snapshot carries.
const (
	keepLatencies = 32
	keepChanges   = 256
)

// A loop is one Run of a Stealer. Its state is owned by the goroutine that
// calls run: the goroutines it starts (one per request, each working the
// alloc it is granted) never touch it, and tell it what happened through
// msgs. Only a request's cancelled and granted flags are shared, under the
// request's mutex.
type loop struct {
	cfg  *Config
	ev   Evaluator
	est  DurationEstimator // ev, when it is one
	wake <-chan struct{}

	msgs chan msg
	wg   sync.WaitGroup
	live int // goroutines started whose last message has not come

	nextReq  int
	pending  map[RequestID]*request // in flight, not cancelled
	held     map[string]*holding    // granted or taken over, not released
	latency  []time.Duration        // oldest first
	waited   []time.Duration        // by requests cancelled, oldest first
	recent   []Change               // oldest first
	failures int                    // Allocate failures in a row
	retryAt  time.Time              // no new request before
	retry    *time.Timer            // fires at retryAt
	backoff  backoff.Policy
	holdKey  string // what the last Hold event was about
	kept     int    // held allocs the last plan kept past their idle timeout
	stopping bool
	shown    map[RequestID]*status.Task // the requests shown in cfg.Status
}

// A request is one Allocate call in flight.
type request struct {
	seq    int // order of making
	id     RequestID
	req    ebb.Requirements
	since  time.Time
	serves []ebb.Demand
	cancel context.CancelFunc

	mu        sync.Mutex // guards cancelled and granted
	cancelled bool       // the loop gave it up
	granted   bool       // its goroutine kept what it was granted
}

// tryCancel gives r up unless its grant was kept already.
func (r *request) tryCancel() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.granted {
		return false
	}
	r.cancelled = true
	r.cancel()
	return true
}

// tryGrant keeps what r was granted unless r was given up (or its context,
// Run's, is done).
func (r *request) tryGrant(ctx context.Context) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancelled || ctx.Err() != nil {
		return false
	}
	r.granted = true
	return true
}

func (r *request) wasCancelled() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cancelled
}

// A holding is an alloc the loop holds.
type holding struct {
	alloc    pool.Alloc
	res      ebb.Resources
	since    time.Time
	draining bool
	kept     string // the reason the last plan kept it (Plan.Keep), if it did
}

type msgKind uint8

const (
	msgGranted   msgKind = iota + 1 // req was granted alloc, recorded, now being worked
	msgFailed                       // req's Allocate (or OnAcquire) failed; last message
	msgDiscarded                    // req was granted alloc after it was given up; alloc freed; last message
	msgReleased                     // alloc's work returned and it was freed; last message
)

type msg struct {
	kind    msgKind
	req     *request
	alloc   pool.Alloc
	latency time.Duration
	err     error  // msgFailed: Allocate's or OnAcquire's; msgDiscarded, msgReleased: Free's
	workErr error  // msgReleased: Work's
	lost    bool   // msgReleased: the alloc was lost
	failed  bool   // msgReleased: its work failed (whyReturned)
	why     string // msgReleased: why its work returned
}

func newLoop(cfg *Config, ev Evaluator, wake <-chan struct{}) *loop {
	l := &loop{
		cfg:     cfg,
		ev:      ev,
		wake:    wake,
		msgs:    make(chan msg),
		pending: make(map[RequestID]*request),
		held:    make(map[string]*holding),
		backoff: backoff.Policy{Min: cfg.RetryMinWait, Max: cfg.RetryMaxWait, Factor: 2, Jitter: 0.2},
	}
	l.est, _ = ev.(DurationEstimator)
	return l
}

func (l *loop) run(parent context.Context) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	l.retry = time.NewTimer(time.Hour)
	l.retry.Stop()
	defer l.retry.Stop()
	for _, a := range l.cfg.Allocs {
		l.adopt(ctx, a)
	}
	ticker := time.NewTicker(l.cfg.Tick)
	defer ticker.Stop()

	var err error
	select {
	case <-l.ev.Done():
		// Nothing to steal for: give back what was handed over.
	default:
		l.evaluate(ctx)
	}
wait:
	for {
		select {
		case <-ctx.Done():
			err = parent.Err()
			break wait
		case <-l.ev.Done():
			break wait
		case <-ticker.C:
		case <-l.wake:
		case <-l.retry.C:
		case m := <-l.msgs:
			l.handle(ctx, m)
			// React once to whatever else has come meanwhile.
			for more := true; more; {
				select {
				case m := <-l.msgs:
					l.handle(ctx, m)
				default:
					more = false
				}
			}
		}
		l.evaluate(ctx)
	}

	// Give everything back: cancelling ctx cancels every Allocate call
	// and every Work; each goroutine frees its alloc and says so.
	l.stopping = true
	cancel()
	for l.live > 0 {
		l.handle(ctx, <-l.msgs)
	}
	l.wg.Wait()
	return err
}

// evaluate takes a snapshot, asks the policy for a plan, and applies it.
func (l *loop) evaluate(ctx context.Context) {
	now := time.Now()
	s := l.snapshot(now)
	plan := l.cfg.Policy.Plan(s)
	l.apply(ctx, now, s, plan)
}

// snapshot returns what the policy decides from; nothing in it is shared
// with the loop's state.
func (l *loop) snapshot(now time.Time) Snapshot {
	// Load is read before Demand. An alloc whose Work starts between the
	// two reads is then not Working in the snapshot, and the policy
	// credits its free capacity to the demand (see Held.Working), while
	// Demand no longer counts the tasks it places: the snapshot
	// undercounts for a moment. Read the other way round, the same
	// tasks would be counted both as demand and as waiting behind a
	// working alloc's free capacity, and the policy could buy for them.
	loads := l.ev.Load()
	s := Snapshot{
		Now:       now,
		Tick:      l.cfg.Tick,
		Demand:    l.ev.Demand(),
		Latency:   slices.Clone(l.latency),
		Cancelled: slices.Clone(l.waited),
		Recent:    make([]Change, len(l.recent)),
	}
	for i, c := range l.recent {
		s.Recent[i] = Change{Time: c.Time, Kind: c.Kind, Resources: c.Resources.Clone(), Asked: c.Asked.Clone()}
	}
	if l.est != nil {
		s.TaskDuration = max(0, l.est.TaskDuration())
	}
	if r, ok := l.ev.(RemainingEstimator); ok {
		s.Remaining = max(0, r.Remaining())
	}
	if u, ok := l.ev.(UpcomingEstimator); ok {
		s.Upcoming = u.Upcoming()
	}
	if z, ok := l.cfg.Cluster.(Sizer); ok {
		s.Nodes = z.Sizes()
	}
	working := make(map[string]bool, len(l.held))
	for _, ld := range loads {
		h, ok := l.held[ld.ID]
		if !ok {
			s.Others = append(s.Others, heldOf(ld, time.Time{}))
			continue
		}
		e := heldOf(ld, h.since)
		e.Draining = e.Draining || h.draining
		s.Held = append(s.Held, e)
		working[ld.ID] = true
	}
	for id, h := range l.held {
		if working[id] {
			continue
		}
		s.Held = append(s.Held, Held{
			ID: id, Resources: h.res.Clone(), Free: h.res.Clone(), Busy: ebb.Resources{},
			IdleSince: h.since, Draining: h.draining, Since: h.since,
		})
	}
	byAge := func(a, b Held) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	}
	slices.SortFunc(s.Held, byAge)
	slices.SortFunc(s.Others, byAge)
	reqs := slices.SortedFunc(maps.Values(l.pending), func(a, b *request) int { return cmp.Compare(a.seq, b.seq) })
	for _, r := range reqs {
		s.Pending = append(s.Pending, Pending{
			ID: r.id, Since: r.since, For: cloneDemand(r.serves),
			Requirements: ebb.Requirements{Min: r.req.Min.Clone(), Width: r.req.Width},
		})
	}
	if c, ok := l.ev.(CriticalEstimator); ok {
		held, _ := s.HeldCPU()
		s.Critical = c.Critical(held)
	}
	return s
}

// heldOf returns ld as a Held entry. Evaluator.Load's result is the
// caller's, so its maps are kept, not copied.
func heldOf(ld ebb.AllocLoad, since time.Time) Held {
	return Held{
		ID:        ld.ID,
		Resources: ld.Resources,
		Free:      ld.Free,
		Busy:      ld.Resources.Sub(ld.Free),
		Running:   ld.Running,
		IdleSince: ld.IdleSince,
		Draining:  ld.Draining,
		Working:   true,
		Since:     since,
	}
}

func cloneDemand(ds []ebb.Demand) []ebb.Demand {
	out := make([]ebb.Demand, len(ds))
	for i, d := range ds {
		out[i] = ebb.Demand{Resources: d.Resources.Clone(), Count: d.Count}
	}
	return out
}

// apply carries out what Admit lets through of plan: cancels, then
// drains, then acquires, and reports what it refused.
func (l *loop) apply(ctx context.Context, now time.Time, s Snapshot, plan Plan) {
	a := Admit(s, plan, AdmitLimits{MaxPending: l.cfg.MaxPending, RetryAt: l.retryAt})
	for _, c := range a.Cancel {
		r := l.pending[c.ID]
		if !r.tryCancel() {
			l.emit(ctx, Event{Kind: EventRejected, RequestID: c.ID,
				Reason: fmt.Sprintf("cancel of request %s came too late: it was granted (%s)", c.ID, c.Reason)})
			continue
		}
		delete(l.pending, c.ID)
		l.waited = appendKeep(l.waited, now.Sub(r.since), keepLatencies)
		l.emit(ctx, Event{Kind: EventCancelled, RequestID: c.ID, Resources: r.req.Max(), Reason: c.Reason})
	}
	for _, d := range a.Drain {
		h := l.held[d.AllocID]
		if !l.ev.Drain(d.AllocID) {
			l.emit(ctx, Event{Kind: EventRejected, AllocID: d.AllocID,
				Reason: fmt.Sprintf("drain of alloc %s refused: it does not work for the evaluation (any more) (%s)", d.AllocID, d.Reason)})
			continue
		}
		h.draining = true
		l.emit(ctx, Event{Kind: EventDrained, AllocID: d.AllocID, Resources: h.res.Clone(), Reason: d.Reason})
	}
	for _, r := range a.Rejected {
		l.emit(ctx, Event{Kind: EventRejected, RequestID: r.RequestID, AllocID: r.AllocID, Err: r.Err, Reason: r.Reason})
	}
	for _, q := range a.Acquire {
		l.nextReq++
		r := &request{
			seq:    l.nextReq,
			id:     RequestID(fmt.Sprintf("r%d", l.nextReq)),
			req:    ebb.Requirements{Min: q.Requirements.Min.Clone(), Width: q.Requirements.Width},
			since:  now,
			serves: cloneDemand(q.For),
		}
		l.pending[r.id] = r
		l.emit(ctx, Event{Kind: EventRequested, RequestID: r.id, Resources: r.req.Max(), Reason: q.Reason})
		l.request(ctx, r)
	}
	l.keep(ctx, plan.Keep)
	if plan.Hold == "" {
		l.holdKey = ""
		return
	}
	if key := holdKey(s); key != l.holdKey {
		l.holdKey = key
		l.emit(ctx, Event{Kind: EventHold, Reason: plan.Hold})
	}
}

// keep records which held allocs the plan keeps past their idle timeout,
// and why, and reports each that the plan before did not keep for the
// same reason.
func (l *loop) keep(ctx context.Context, keeps []Keep) {
	if len(keeps) == 0 && l.kept == 0 {
		return
	}
	now := make(map[string]bool, len(keeps))
	for _, k := range keeps {
		h := l.held[k.AllocID]
		if h == nil || h.draining || now[k.AllocID] {
			continue
		}
		now[k.AllocID] = true
		if h.kept != k.Reason {
			h.kept = k.Reason
			l.emit(ctx, Event{Kind: EventKept, AllocID: k.AllocID, Resources: h.res.Clone(), Reason: k.Reason})
		}
	}
	if l.kept > 0 {
		for id, h := range l.held {
			if !now[id] {
				h.kept = ""
			}
		}
	}
	l.kept = len(now)
}

// holdKey says what a Hold is about: the demand and the requests in
// flight. A Hold event is reported when it changes.
func holdKey(s Snapshot) string {
	var b strings.Builder
	for _, d := range s.Demand {
		fmt.Fprintf(&b, "%s×%d;", d.Resources, d.Count)
	}
	fmt.Fprintf(&b, "|%d", len(s.Pending))
	return b.String()
}

// handle records what a goroutine reported.
func (l *loop) handle(ctx context.Context, m msg) {
	now := time.Now()
	switch m.kind {
	case msgGranted:
		delete(l.pending, m.req.id)
		h := &holding{alloc: m.alloc, res: m.alloc.Resources(), since: now}
		l.held[m.alloc.ID()] = h
		l.latency = appendKeep(l.latency, m.latency, keepLatencies)
		l.recent = appendKeep(l.recent, Change{Time: m.req.since, Kind: Acquired, Resources: h.res.Clone(), Asked: m.req.req.Max()}, keepChanges)
		l.failures, l.retryAt = 0, time.Time{}
		l.emit(ctx, Event{Kind: EventGranted, RequestID: m.req.id, AllocID: m.alloc.ID(), Resources: h.res.Clone(),
			Reason: fmt.Sprintf("granted alloc %s (%s) for request %s after %s", m.alloc.ID(), h.res, m.req.id, fmtDur(m.latency))})
	case msgFailed:
		l.live--
		delete(l.pending, m.req.id)
		switch {
		case m.req.wasCancelled():
			// Reported when it was cancelled.
		case l.stopping:
			l.emit(ctx, Event{Kind: EventCancelled, RequestID: m.req.id, Resources: m.req.req.Max(), Reason: "cancelled request: run ended"})
		default:
			wait := l.failed(now)
			l.emit(ctx, Event{Kind: EventFailed, RequestID: m.req.id, Resources: m.req.req.Max(), Err: m.err,
				Reason: fmt.Sprintf("request %s (%s) failed (%s in a row); next request in %s: %v",
					m.req.id, m.req.req, plural(l.failures, "failure"), fmtDur(wait), m.err)})
		}
	case msgDiscarded:
		l.live--
		delete(l.pending, m.req.id)
		l.emit(ctx, Event{Kind: EventReleased, RequestID: m.req.id, AllocID: m.alloc.ID(), Resources: m.alloc.Resources(), Err: m.err,
			Reason: fmt.Sprintf("released alloc %s: granted after request %s was cancelled", m.alloc.ID(), m.req.id)})
	case msgReleased:
		l.live--
		id := m.alloc.ID()
		res := m.alloc.Resources()
		if h, ok := l.held[id]; ok {
			res = h.res.Clone()
			delete(l.held, id)
		}
		l.recent = appendKeep(l.recent, Change{Time: now, Kind: Released, Resources: res.Clone()}, keepChanges)
		if m.lost {
			l.emit(ctx, Event{Kind: EventLost, AllocID: id, Resources: res.Clone(), Err: m.workErr,
				Reason: fmt.Sprintf("lost alloc %s: %v", id, m.workErr)})
		}
		reason := fmt.Sprintf("released alloc %s: %s", id, m.why)
		if m.failed {
			// Capacity that cannot be worked is no better than none:
			// the next request waits as after a failed one.
			reason += fmt.Sprintf("; next request in %s", fmtDur(l.failed(now)))
		}
		if m.err != nil {
			reason += fmt.Sprintf("; free failed, its lease lapses on its own: %v", m.err)
		}
		err := m.err
		if m.failed {
			err = errors.Join(m.workErr, m.err)
		}
		l.emit(ctx, Event{Kind: EventReleased, AllocID: id, Resources: res, Err: err, Reason: reason})
	}
}

// failed counts a failed allocation and sets the time before which
// nothing new is asked for, which it returns.
func (l *loop) failed(now time.Time) time.Duration {
	l.failures++
	wait := l.backoff.Wait(l.failures - 1)
	l.retryAt = now.Add(wait)
	l.retry.Reset(wait)
	return wait
}

func appendKeep[T any](s []T, v T, n int) []T {
	s = append(s, v)
	if len(s) > n {
		s = slices.Delete(s, 0, len(s)-n)
	}
	return s
}

// emit reports e: to the log and to OnEvent.
func (l *loop) emit(ctx context.Context, e Event) {
	e.Time = time.Now()
	e.log(ctx, l.cfg.Logger)
	if l.cfg.OnEvent != nil {
		l.cfg.OnEvent(e)
	}
	l.report()
}
