package stealer

import (
	"fmt"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
)

// Snapshots, allocs and requests built by hand, and plans printed, for
// the package's tests.

const gib = 1 << 30

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func cpus(n float64) ebb.Resources { return ebb.Resources{ebb.CPU: n} }

func shape(cpu, memGiB float64) ebb.Resources {
	return ebb.Resources{ebb.CPU: cpu, ebb.Mem: memGiB * gib}
}

func dem(r ebb.Resources, n int) ebb.Demand { return ebb.Demand{Resources: r, Count: n} }

func req(unit ebb.Resources, width int) ebb.Requirements {
	return ebb.Requirements{Min: unit, Width: width}
}

// working is a held alloc that works for the evaluation, running n tasks
// of one cpu each (idle since t0-idle when n is 0).
func working(id string, total float64, n int, idle time.Duration) Held {
	h := Held{ID: id, Resources: cpus(total), Free: cpus(total - float64(n)), Busy: cpus(float64(n)),
		Running: n, Working: true, Since: t0.Add(-time.Hour)}
	if n == 0 {
		h.IdleSince = t0.Add(-idle)
	}
	return h
}

// primary is an alloc of the evaluation's that the stealer does not hold,
// every one of its cpus busy.
func primary(total float64) Held {
	return Held{ID: "primary", Resources: cpus(total), Free: ebb.Resources{}, Busy: cpus(total),
		Running: int(total), Working: true}
}

func pending(id string, r ebb.Requirements, age time.Duration) Pending {
	return Pending{ID: RequestID(id), Requirements: r, Since: t0.Add(-age)}
}

// formatSnapshot prints s for a failing test.
func formatSnapshot(s Snapshot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  now %s, task duration %v, latency %v\n", s.Now.Format(time.TimeOnly), s.TaskDuration, s.Latency)
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
	return b.String()
}

func fmtTime(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return fmt.Sprintf("now%+v", t.Sub(now))
}

func formatPlan(p Plan) string {
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
