package stealer

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ebbflow/ebb"
)

// The default policy's step 5, its measure: a flow whose work left is
// wider than held capacity runs before its longest chain ends needs only
// the cpus that run that work by then, not one for every task waiting.

// enough caps b at the cpus that, with held capacity and the requests
// in flight kept (coming: the cpus they are expected to bring), run the
// work left by the time its longest chain ends (Critical.Cpus, the
// fewest on which the work left, list-scheduled, ends by then; held
// capacity itself when its own schedule, Critical.Packed, ends by
// then): once a chain bounds the flow, more capacity ends nothing
// sooner, and the tasks that wait for a slot meanwhile wait on no
// chain's end. An alloc bought comes after the latency, and so runs for
// less of that time than what is held: it counts at that share. Every
// kind's duration must be known (Critical.Ranked), and every task of
// the flow (Critical.Walked): else the chain's end is a lower bound,
// and the work too. What held capacity cannot run at all is bought
// still.
func enough(s Snapshot, b purchase, coming float64, latency time.Duration) purchase {
	c := s.Critical
	if len(b.buy) == 0 || !c.Ranked || !c.Walked || s.TaskDuration <= 0 {
		return b
	}
	depth := c.End
	for _, ch := range c.Chains {
		depth = max(depth, ch.In+ch.Length)
	}
	if depth <= latency {
		return b
	}
	held, _ := s.HeldCPU()
	cpus := c.Cpus
	if cpus <= 0 {
		if c.Packed <= 0 || c.Packed > depth {
			return b
		}
		cpus = held // held capacity runs the work left by then
	}
	need := max(0, cpus-held) * depth.Seconds() / (depth - latency).Seconds()
	room := math.Ceil(need - coming)
	bought := 0.0
	capped := false
	out := make([]group, 0, len(b.buy))
	for _, g := range b.buy {
		cpu := g.shape[ebb.CPU]
		if !b.runnable[g.shape.String()] || cpu <= 0 {
			out = append(out, g)
			continue
		}
		n := min(g.count, int(max(0, room-bought)/cpu))
		if n < g.count {
			capped = true
		}
		if n > 0 {
			bought += float64(n) * cpu
			g.count = n
			out = append(out, g)
		}
	}
	if !capped {
		return b
	}
	b.buy = slices.Clip(out)
	b.why += fmt.Sprintf("; the work left runs on %.0f cpu by the time its longest chain ends, in %s: %.0f cpu more, %.0f of them asked for already",
		cpus, fmtDur(depth), math.Ceil(need), coming)
	return b
}
