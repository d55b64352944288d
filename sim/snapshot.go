package sim

import (
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

// heldOf returns a's entry in a snapshot.
func (e *engine) heldOf(a *alloc) stealer.Held {
	busy := make([]float64, len(a.res))
	for i := range busy {
		busy[i] = snap(a.res[i] - a.free[i])
	}
	h := stealer.Held{
		ID:        a.id,
		Resources: a.resMap,
		Free:      e.sp.res(a.free),
		Busy:      e.sp.res(busy),
		Running:   a.running,
		Draining:  a.draining,
		Working:   true,
	}
	if a.running == 0 {
		h.IdleSince = epoch.Add(a.idleSince)
	}
	if a.aux {
		h.Since = epoch.Add(a.grantAt)
	}
	return h
}

// snapshot returns what the policy decides from, as a Stealer builds it
// from runner.Eval: Demand is every ready task left unplaced (placement
// has just run, so none fits the free capacity of any working alloc),
// Held the auxiliary allocs (all working: the simulator puts an alloc to
// work the moment it is granted), Others the primary.
//
// The snapshot shares memory with the engine (the held and pending
// entries, the task shapes, the histories): a Policy must not modify its
// snapshot nor keep it past Plan, which the Policy contract already says.
// That keeps a snapshot's cost in what changed since the last one, not in
// everything held.
func (e *engine) snapshot() stealer.Snapshot {
	for _, a := range e.dirty {
		a.dirty = false
		if a.heldIdx >= 0 {
			h := e.heldOf(a)
			e.heldUp += h.HeldCPU() - e.heldSnap[a.heldIdx].HeldCPU()
			e.heldSnap[a.heldIdx] = h
		}
	}
	e.dirty = e.dirty[:0]
	r := e.runningNow()
	s := stealer.Snapshot{
		Now:          epoch.Add(e.now),
		Tick:         e.cl.Tick,
		Held:         e.heldSnap,
		Others:       []stealer.Held{e.heldOf(e.primary)},
		Pending:      e.pendingSnap,
		Latency:      e.latency,
		Cancelled:    e.waited,
		TaskDuration: e.taskAvg,
		Remaining:    e.runningLeft(r),
		Nodes:        e.cl.Shapes,
		Recent:       e.recent,
	}
	// The capacity held, as s.HeldCPU says, kept as allocs change.
	if !e.blind {
		s.Upcoming, s.Critical = e.lookahead(r, e.heldUp+s.Others[0].HeldCPU())
	}
	if len(e.readyShapes) > 0 {
		s.Demand = make([]ebb.Demand, 0, len(e.readyShapes))
		for _, sh := range e.readyShapes {
			if sh.forPrimary {
				continue
			}
			d, atLeast := e.shapeDuration(sh, r)
			s.Demand = append(s.Demand, ebb.Demand{Resources: sh.res, Count: sh.len(), Duration: d, AtLeast: atLeast})
		}
		if len(s.Demand) == 0 {
			s.Demand = nil
		}
	}
	return s
}

// evaluate asks the policy for a plan and applies it, as a Stealer's loop
// does.
func (e *engine) evaluate() {
	s := e.snapshot()
	plan := e.cfg.Policy.Plan(s)
	e.acc.policyCalls++
	if e.log != nil {
		e.logPlan(plan)
	}
	e.apply(s, plan)
}

// apply carries out what stealer.Admit lets through of plan, as a
// stealer.Stealer does: cancels, then drains, then acquires; what it
// refuses counts as rejected.
func (e *engine) apply(s stealer.Snapshot, plan stealer.Plan) {
	a := stealer.Admit(s, plan, stealer.AdmitLimits{MaxPending: e.cl.MaxPending, RetryAt: epoch.Add(e.retryAt)})
	if e.onAdmit != nil {
		e.onAdmit(a)
	}
	e.acc.rejected += len(a.Rejected)
	for _, c := range a.Cancel {
		r := e.pendingByID[c.ID]
		e.waited = keep(e.waited, e.now-r.since, keepLatencies)
		e.cancel(r)
	}
	var window time.Duration // of the allocs drained (see rebuy)
	if len(a.Drain) > 0 {
		window = 2 * e.idleTimeout(s)
	}
	for _, d := range a.Drain {
		h := e.heldByID[d.AllocID]
		h.draining, h.window = true, window
		e.takersDirty = true
		e.acc.drains++
		e.free.remove(h)
		e.touch(h)
		if h.running > 0 {
			e.acc.busyDrains++
			continue
		}
		e.release(h)
	}
	for _, r := range a.Acquire {
		e.ask(r)
	}
}

// idleTimeout is the policy's idle timeout given s, as it tells it (see
// IdleTimer), or Config.IdleTimeout.
func (e *engine) idleTimeout(s stealer.Snapshot) time.Duration {
	if e.timer == nil {
		return e.cfg.IdleTimeout
	}
	idle, _ := e.timer.IdleTimeout(s)
	return idle
}
