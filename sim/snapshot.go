package sim

import (
	"slices"
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
			e.heldSnap[a.heldIdx] = e.heldOf(a)
		}
	}
	e.dirty = e.dirty[:0]
	s := stealer.Snapshot{
		Now:          epoch.Add(e.now),
		Held:         e.heldSnap,
		Others:       []stealer.Held{e.heldOf(e.primary)},
		Pending:      e.pendingSnap,
		Latency:      e.latency,
		TaskDuration: e.taskAvg,
		Recent:       e.recent,
	}
	if len(e.readyShapes) > 0 {
		s.Demand = make([]ebb.Demand, len(e.readyShapes))
		for i, sh := range e.readyShapes {
			s.Demand[i] = ebb.Demand{Resources: sh.res, Count: sh.len()}
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
	e.apply(s, plan)
}

// apply carries out plan as stealer.Stealer does: cancels, then drains,
// then acquires; what it cannot do it skips and counts as rejected (a
// cancel of a request not in flight, a drain of an alloc not held, an
// invalid request, a request beyond Cluster.MaxPending). While backing
// off after failed launches, it makes no new request.
func (e *engine) apply(s stealer.Snapshot, plan stealer.Plan) {
	var window time.Duration
	if len(plan.Acquire) > 0 {
		idle := e.cfg.IdleTimeout
		if e.timer != nil {
			idle, _ = e.timer.IdleTimeout(s)
		}
		window = 2 * idle
	}
	for _, c := range plan.Cancel {
		r, ok := e.pendingByID[c.ID]
		if !ok {
			e.acc.rejected++
			continue
		}
		e.cancel(r)
	}
	var freed []string // drained and freed by this plan
	for _, d := range plan.Drain {
		a, ok := e.heldByID[d.AllocID]
		switch {
		case !ok && slices.Contains(freed, d.AllocID):
			continue // drained twice: the stealer skips the second
		case !ok:
			e.acc.rejected++
			continue
		case a.draining:
			continue
		}
		a.draining = true
		e.acc.drains++
		e.free.remove(a)
		e.touch(a)
		if a.running > 0 {
			e.acc.busyDrains++
			continue
		}
		freed = append(freed, a.id)
		e.release(a)
	}
	if len(plan.Acquire) > 0 && e.now < e.retryAt {
		return // backing off
	}
	for i, a := range plan.Acquire {
		if len(e.pending) >= e.cl.MaxPending {
			e.acc.rejected += len(plan.Acquire) - i
			break
		}
		if a.Requirements.Validate() != nil || a.Requirements.Min.IsZero() {
			e.acc.rejected++
			continue
		}
		e.ask(a, window)
	}
}
