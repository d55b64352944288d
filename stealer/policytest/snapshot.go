package policytest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

// shapes are the task and alloc shapes of random snapshots: plain cpu,
// cpu and mem, a gpu, a custom key, and nothing at all.
var shapes = []ebb.Resources{
	{ebb.CPU: 1}, {ebb.CPU: 2}, {ebb.CPU: 1, ebb.Mem: 2 << 30}, {ebb.CPU: 0.5, ebb.Mem: 1 << 30},
	{ebb.CPU: 4, ebb.Mem: 16 << 30}, {ebb.CPU: 8, ebb.Mem: 1 << 30},
	{ebb.CPU: 4, ebb.GPU: 1}, {ebb.CPU: 1, "licence": 1}, nil,
}

// RandomSnapshot returns a snapshot taken at now, drawn from r: small,
// and often odd (allocs running and idle at once, requests for shapes
// nobody wants, a task count in the thousands). Every field is set some
// of the time; all times are at or before now.
func RandomSnapshot(r *rand.Rand, now time.Time) stealer.Snapshot {
	ago := func(max time.Duration) time.Time { return now.Add(-time.Duration(r.Int64N(int64(max)))) }
	pick := func() ebb.Resources { return shapes[r.IntN(len(shapes))].Clone() }
	s := stealer.Snapshot{Now: now}
	for range r.IntN(5) {
		n := r.IntN(40)
		if r.IntN(10) == 0 {
			n = r.IntN(10000)
		}
		s.Demand = append(s.Demand, ebb.Demand{Resources: pick(), Count: n})
	}
	mkHeld := func(id string) stealer.Held {
		res := pick().Scale(float64(1 + r.IntN(4)))
		h := stealer.Held{ID: id, Resources: res, Free: res.Clone(), Busy: ebb.Resources{}, Since: ago(time.Hour)}
		h.Working = r.IntN(4) != 0
		h.Draining = r.IntN(5) == 0
		if h.Working {
			h.Running = r.IntN(3)
			if h.Running > 0 {
				h.Free = res.Scale(0.25)
				h.Busy = res.Sub(h.Free)
			}
			if h.Running == 0 || r.IntN(4) == 0 {
				// Idle up to five minutes, around the idle
				// timeouts, or up to an hour, past them all.
				h.IdleSince = ago([]time.Duration{5 * time.Minute, time.Hour}[r.IntN(2)])
			}
		} else {
			h.IdleSince = h.Since
		}
		return h
	}
	for i := range r.IntN(6) {
		s.Held = append(s.Held, mkHeld(fmt.Sprintf("a%d", i)))
	}
	for i := range r.IntN(3) {
		h := mkHeld(fmt.Sprintf("p%d", i))
		h.Working = true
		s.Others = append(s.Others, h)
	}
	for i := range r.IntN(6) {
		s.Pending = append(s.Pending, stealer.Pending{
			ID:           stealer.RequestID(fmt.Sprintf("r%d", i)),
			Requirements: ebb.Requirements{Min: pick(), Width: r.IntN(9)},
			Since:        ago(15 * time.Minute),
		})
	}
	for range r.IntN(4) {
		s.Latency = append(s.Latency, time.Duration(r.Int64N(int64(3*time.Minute))))
	}
	for range r.IntN(3) {
		s.Cancelled = append(s.Cancelled, time.Duration(r.Int64N(int64(5*time.Minute))))
	}
	if r.IntN(2) == 0 {
		s.TaskDuration = time.Duration(1+r.IntN(600)) * time.Second
	}
	// Placement by rank, as once every kind's duration is known.
	s.Critical.Ranked = r.IntN(3) == 0
	if r.IntN(3) == 0 {
		// The tasks left to start, listed (a flow's tail) or not.
		s.Critical.Walked = true
		for range r.IntN(4) {
			n := 1 + r.IntN(6)
			s.Critical.Left = append(s.Critical.Left, ebb.Demand{Resources: pick(), Count: n})
			s.Critical.Waiting += n
		}
		if r.IntN(4) == 0 {
			s.Critical.Left, s.Critical.Waiting = nil, 300+r.IntN(1000)
		}
	}
	if r.IntN(3) == 0 {
		// The running chains' end, and the work left packed on what
		// is held, before or past it.
		s.Critical.End = time.Duration(1+r.IntN(1200)) * time.Second
		s.Critical.Packed = max(0, s.Critical.End+time.Duration(r.IntN(1200)-400)*time.Second)
	}
	for range r.IntN(4) {
		// The next wave: timed, untimed, or a chain behind ready
		// tasks; due now or in minutes, maybe sooner than its mean.
		u := stealer.Upcoming{Demand: ebb.Demand{Resources: pick(), Count: r.IntN(40)}}
		u.Duration = time.Duration(r.IntN(600)) * time.Second
		u.In = time.Duration(r.IntN(900)) * time.Second
		switch r.IntN(4) {
		case 0:
			u.Untimed, u.In = true, 0
			u.Likely = time.Duration(r.IntN(900)) * time.Second
		case 1:
			u.Untimed, u.Follows, u.In = true, true, 0
		case 2:
			u.Soon = time.Duration(r.Int64N(int64(u.In) + 1))
		}
		if r.IntN(2) == 0 {
			u.Chain = time.Duration(r.IntN(300)) * time.Second
		}
		s.Upcoming = append(s.Upcoming, u)
	}
	for range r.IntN(8) {
		kind := stealer.Acquired
		if r.IntN(2) == 0 {
			kind = stealer.Released
		}
		s.Recent = append(s.Recent, stealer.Change{Time: ago(30 * time.Minute), Kind: kind, Resources: pick()})
	}
	if r.IntN(3) == 0 {
		// Allocs asked for together and granted alike: a cut.
		at, res := ago(30*time.Minute), pick().Scale(float64(1+r.IntN(4)))
		for range 2 + r.IntN(2) {
			s.Recent = append(s.Recent, stealer.Change{Time: at, Kind: stealer.Acquired, Resources: res})
		}
	}
	return s
}

// cloneSnapshot copies s deeply, to tell whether Plan changed it.
func cloneSnapshot(s stealer.Snapshot) stealer.Snapshot {
	c := s
	if s.Demand != nil {
		c.Demand = make([]ebb.Demand, len(s.Demand))
		for i, d := range s.Demand {
			c.Demand[i] = ebb.Demand{Resources: d.Resources.Clone(), Count: d.Count}
		}
	}
	cloneHeld := func(hs []stealer.Held) []stealer.Held {
		if hs == nil {
			return nil
		}
		out := make([]stealer.Held, len(hs))
		for i, h := range hs {
			out[i] = h
			out[i].Resources, out[i].Free, out[i].Busy = h.Resources.Clone(), h.Free.Clone(), h.Busy.Clone()
		}
		return out
	}
	c.Held, c.Others = cloneHeld(s.Held), cloneHeld(s.Others)
	if s.Pending != nil {
		c.Pending = make([]stealer.Pending, len(s.Pending))
		for i, p := range s.Pending {
			c.Pending[i] = p
			c.Pending[i].Requirements.Min = p.Requirements.Min.Clone()
		}
	}
	if s.Critical.Left != nil {
		c.Critical.Left = make([]ebb.Demand, len(s.Critical.Left))
		for i, d := range s.Critical.Left {
			c.Critical.Left[i] = ebb.Demand{Resources: d.Resources.Clone(), Count: d.Count}
		}
	}
	c.Critical.Chains = slices.Clone(s.Critical.Chains)
	if s.Upcoming != nil {
		c.Upcoming = make([]stealer.Upcoming, len(s.Upcoming))
		for i, u := range s.Upcoming {
			c.Upcoming[i] = u
			c.Upcoming[i].Resources = u.Resources.Clone()
		}
	}
	c.Latency = slices.Clone(s.Latency)
	c.Cancelled = slices.Clone(s.Cancelled)
	if s.Recent != nil {
		c.Recent = make([]stealer.Change, len(s.Recent))
		for i, r := range s.Recent {
			c.Recent[i] = r
			c.Recent[i].Resources = r.Resources.Clone()
		}
	}
	return c
}

// FormatSnapshot prints s one item a line, times relative to s.Now, for
// a failure message.
func FormatSnapshot(s stealer.Snapshot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  now %s, task duration %v, latency %v, cancelled after %v\n", s.Now.Format(time.TimeOnly), s.TaskDuration, s.Latency, s.Cancelled)
	for _, d := range s.Demand {
		fmt.Fprintf(&b, "  demand %d × %s\n", d.Count, d.Resources)
	}
	for _, h := range s.Held {
		fmt.Fprintf(&b, "  held %s: %s, free %s, running %d, working %v, draining %v, idle since %v\n",
			h.ID, h.Resources, h.Free, h.Running, h.Working, h.Draining, fmtTime(h.IdleSince, s.Now))
	}
	for _, h := range s.Others {
		fmt.Fprintf(&b, "  other %s: %s, free %s, running %d, draining %v, idle since %v\n",
			h.ID, h.Resources, h.Free, h.Running, h.Draining, fmtTime(h.IdleSince, s.Now))
	}
	for _, p := range s.Pending {
		fmt.Fprintf(&b, "  pending %s: %s since %v\n", p.ID, p.Requirements, fmtTime(p.Since, s.Now))
	}
	for _, c := range s.Recent {
		fmt.Fprintf(&b, "  recent %s %s at %v\n", c.Kind, c.Resources, fmtTime(c.Time, s.Now))
	}
	for _, u := range s.Upcoming {
		fmt.Fprintf(&b, "  upcoming %d × %s of %v, in %v, likely %v, soon %v, chain %v, untimed %v, follows %v\n",
			u.Count, u.Resources, u.Duration, u.In, u.Likely, u.Soon, u.Chain, u.Untimed, u.Follows)
	}
	if c := s.Critical; c.End != 0 || c.Packed != 0 || c.Ranked || c.Walked {
		fmt.Fprintf(&b, "  critical: end %v, packed %v, ranked %v, walked %v, waiting %d, left %v\n",
			c.End, c.Packed, c.Ranked, c.Walked, c.Waiting, c.Left)
	}
	return b.String()
}

func fmtTime(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return fmt.Sprintf("now%+v", t.Sub(now))
}

// FormatPlan prints p one item a line, for a failure message.
func FormatPlan(p stealer.Plan) string {
	var b strings.Builder
	for _, a := range p.Acquire {
		fmt.Fprintf(&b, "  acquire %s for %v: %s\n", a.Requirements, a.For, a.Reason)
	}
	for _, c := range p.Cancel {
		fmt.Fprintf(&b, "  cancel %s: %s\n", c.ID, c.Reason)
	}
	for _, d := range p.Drain {
		fmt.Fprintf(&b, "  drain %s: %s\n", d.AllocID, d.Reason)
	}
	for _, k := range p.Keep {
		fmt.Fprintf(&b, "  keep %s: %s\n", k.AllocID, k.Reason)
	}
	if p.Hold != "" {
		fmt.Fprintf(&b, "  hold: %s\n", p.Hold)
	}
	if b.Len() == 0 {
		return "  (nothing)\n"
	}
	return b.String()
}
