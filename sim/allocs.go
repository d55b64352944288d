package sim

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/stealer"
)

// An alloc is the primary or an auxiliary alloc.
type alloc struct {
	num       int // 0 for the primary, then in order of grant
	id        string
	aux       bool
	res, free []float64
	cpu       float64
	resMap    ebb.Resources
	running   int
	idleSince time.Duration // valid while running == 0
	everRan   bool
	draining  bool
	reserved  bool          // by a ready task, for the placement under way (see engine.reserve)
	window    time.Duration // once drained: twice the policy's idle timeout then (see rebuy)
	launchAt  time.Duration // auxiliary: when its worker was launched
	grantAt   time.Duration
	shape     int // auxiliary: index in Cluster.Shapes
	bucket    *bucket
	bpos      int
	heldIdx   int  // index in engine.held
	dirty     bool // its entry in heldSnap is stale
}

func (e *engine) newAlloc(res ebb.Resources, aux bool) *alloc {
	a := &alloc{
		num: e.nallocs, aux: aux, res: e.sp.vec(res), resMap: e.intern(res),
		idleSince: e.now, grantAt: e.now, bpos: -1, heldIdx: -1,
	}
	a.free = slices.Clone(a.res)
	a.cpu = e.sp.cpuOf(a.res)
	a.id = fmt.Sprintf("a%06d", a.num)
	e.nallocs++
	return a
}

// intern returns a map holding what res holds, the same map for every
// alloc granted alike and every request asking alike: snapshots hand it
// to the policy, which must not modify it, and a policy that looks at
// every alloc held and every request in flight can tell alike ones by the
// map alone (see stealer.Default).
func (e *engine) intern(res ebb.Resources) ebb.Resources {
	k := res.Format()
	m, ok := e.resMaps[k]
	if !ok {
		m = res.Clone()
		e.resMaps[k] = m
	}
	return m
}

// touch marks a's snapshot entry stale.
func (e *engine) touch(a *alloc) {
	if a.aux && !a.dirty {
		a.dirty = true
		e.dirty = append(e.dirty, a)
	}
}

type reqState uint8

const (
	reqQueued  reqState = iota + 1 // waiting for a worker slot
	reqBooting                     // its worker is booting
	reqNoShape                     // no shape holds it: fails at once
	reqDone                        // granted, failed or cancelled
)

// A request is an Allocate call in flight: one launch of one worker.
type request struct {
	id       stealer.RequestID
	req      ebb.Requirements
	since    time.Duration
	serves   []ebb.Demand
	state    reqState
	shape    int
	grant    ebb.Resources
	grantCPU float64
	launchAt time.Duration
	fail     bool
	num      int32 // in engine.reqs
	idx      int   // in engine.pending
}

// ask makes a request for what a plan asked for.
func (e *engine) ask(a stealer.Request) {
	e.nreqs++
	r := &request{
		id:    stealer.RequestID(fmt.Sprintf("r%d", e.nreqs)),
		req:   ebb.Requirements{Min: e.intern(a.Requirements.Min), Width: a.Requirements.Width},
		since: e.now,
		idx:   len(e.pending),
		num:   int32(len(e.reqs)),
	}
	e.reqs = append(e.reqs, r)
	for _, d := range a.For {
		r.serves = append(r.serves, ebb.Demand{Resources: d.Resources.Clone(), Count: d.Count})
	}
	e.pending = append(e.pending, r)
	e.pendingSnap = append(e.pendingSnap, stealer.Pending{ID: r.id, Requirements: r.req, Since: epoch.Add(r.since), For: r.serves})
	e.pendingByID[r.id] = r
	e.acc.requests++
	// The shape a cluster.Elastic launches for the request, and what a
	// worker of it grants (pool.Grant).
	shape, units := cluster.PickShape(e.workerShapes, r.req, math.Inf(1))
	if shape < 0 {
		r.state = reqNoShape
		e.q.push(e.now, evLaunch, r.num)
		return
	}
	grant := r.req.Min.Scale(float64(units))
	r.shape, r.grant, r.grantCPU = shape, grant, grant[ebb.CPU]
	if e.workers >= e.cl.MaxWorkers {
		r.state = reqQueued
		e.queue = append(e.queue, r)
		return
	}
	e.launch(r)
}

// launch starts r's worker.
func (e *engine) launch(r *request) {
	r.state = reqBooting
	r.launchAt = e.now
	boot := e.cl.Boot.Sample(e.bootRng)
	r.fail = e.failRng.Float64() < e.cl.FailProb
	e.workers++
	e.acc.peakWorkers = max(e.acc.peakWorkers, e.workers)
	e.bootingCPU += r.grantCPU
	e.acc.launches++
	e.q.push(e.now+boot, evLaunch, r.num)
}

// launchQueued launches the requests waiting for worker slots, in order,
// while there are slots.
func (e *engine) launchQueued() {
	for len(e.queue) > 0 && e.workers < e.cl.MaxWorkers {
		r := e.queue[0]
		e.queue = e.queue[1:]
		e.launch(r)
	}
}

// unpend takes r out of the requests in flight.
func (e *engine) unpend(r *request) {
	i := r.idx
	e.pending = slices.Delete(e.pending, i, i+1)
	e.pendingSnap = slices.Delete(e.pendingSnap, i, i+1)
	for _, p := range e.pending[i:] {
		p.idx--
	}
	delete(e.pendingByID, r.id)
	r.idx = -1
}

// launchDone handles the end of request ref's launch: a grant or a
// failure. It reports whether the stealer would look again.
func (e *engine) launchDone(ref int32) bool {
	r := e.reqs[ref]
	switch r.state {
	case reqBooting, reqNoShape:
	default:
		return false // cancelled meanwhile
	}
	e.unpend(r)
	booted := r.state == reqBooting
	r.state = reqDone
	if booted {
		e.bootingCPU -= r.grantCPU
	}
	if !booted || r.fail {
		if booted {
			e.workers--
			e.launchQueued()
		}
		e.acc.failures++
		e.failures++
		e.retryAt = e.now + e.backoff(e.failures-1)
		e.q.push(e.retryAt, evWake, 0)
		return true
	}
	a := e.newAlloc(r.grant, true)
	a.launchAt, a.shape = r.launchAt, r.shape
	e.acc.wasteBoot += a.cpu * (e.now - r.launchAt).Seconds()
	e.latency = keep(e.latency, e.now-r.since, keepLatencies)
	e.recent = keep(e.recent, stealer.Change{Time: epoch.Add(r.since), Kind: stealer.Acquired, Resources: a.resMap, Asked: r.req.Max()}, keepChanges)
	e.failures, e.retryAt = 0, -1
	e.acc.acquisitions++
	if e.rebuy(r.since) {
		e.acc.rebuys++
	}
	a.heldIdx = len(e.held)
	e.held = append(e.held, a)
	e.takersDirty = true
	e.heldSnap = append(e.heldSnap, e.heldOf(a))
	e.heldUp += e.heldSnap[len(e.heldSnap)-1].HeldCPU()
	e.heldByID[a.id] = a
	e.heldCPU += a.cpu
	e.free.insert(a)
	e.placeDirty = true
	return true
}

// A release is an auxiliary alloc given back, for the thrash index.
type release struct {
	at       time.Duration
	window   time.Duration // the alloc's window (see alloc.window)
	rebought bool          // an acquisition re-bought it
}

// rebuy reports whether an acquisition asked for at since re-buys
// capacity released before it: the latest release at or before since,
// less than its window before, that no earlier acquisition re-bought. A
// release's window is twice the idle timeout under which the policy
// gave the alloc up, so a release is judged by the rule that made it:
// an alloc kept idle 2 s and bought back a minute later was not
// thrashing for a policy that then keeps allocs two minutes. A release
// is re-bought at most once, so that a burst of acquisitions after one
// release counts one re-buy, not one per acquisition.
func (e *engine) rebuy(since time.Duration) bool {
	i, _ := slices.BinarySearchFunc(e.releases, since+1, func(r release, t time.Duration) int { return cmp.Compare(r.at, t) })
	for i--; i >= 0 && since-e.releases[i].at < e.maxWindow; i-- {
		if r := &e.releases[i]; !r.rebought && since-r.at < r.window {
			r.rebought = true
			return true
		}
	}
	return false
}

// backoff returns how long to wait after the n-th failure in a row (from
// 0), as the stealer does: RetryMinWait × 2ⁿ, at most RetryMaxWait, the
// last fifth drawn at random.
func (e *engine) backoff(n int) time.Duration {
	d := float64(e.cl.RetryMinWait)
	for i := 0; i < n && d < float64(e.cl.RetryMaxWait); i++ {
		d *= 2
	}
	d = min(d, float64(e.cl.RetryMaxWait))
	j := 0.2 * d
	return time.Duration(d - j + e.jitterRng.Float64()*j)
}

// cancel gives up request r. A worker that was booting is terminated:
// billed, and its boot counted as waste.
func (e *engine) cancel(r *request) {
	e.unpend(r)
	switch r.state {
	case reqQueued:
		e.queue = slices.DeleteFunc(e.queue, func(q *request) bool { return q == r })
	case reqBooting:
		e.bootingCPU -= r.grantCPU
		e.workers--
		life := e.now - r.launchAt
		e.acc.wasteBoot += r.grantCPU * life.Seconds()
		e.acc.cost += e.bill(life, r.grantCPU)
		e.launchQueued()
	}
	r.state = reqDone
	e.acc.cancels++
}

// bill returns what an alloc of cpu cores that lived for life costs.
func (e *engine) bill(life time.Duration, cpu float64) float64 {
	if q := e.cl.Quantum; q > 0 {
		life = (life + q - 1) / q * q
	}
	return e.cl.Price * cpu * life.Minutes()
}

// release frees auxiliary alloc a.
func (e *engine) release(a *alloc) {
	i := a.heldIdx
	e.held = slices.Delete(e.held, i, i+1)
	e.takersDirty = true
	e.heldUp -= e.heldSnap[i].HeldCPU()
	e.heldSnap = slices.Delete(e.heldSnap, i, i+1)
	for _, h := range e.held[i:] {
		h.heldIdx--
	}
	a.heldIdx = -1
	delete(e.heldByID, a.id)
	e.heldCPU -= a.cpu
	e.free.remove(a)
	e.workers--
	if a.running > 0 {
		e.acc.busyKills++ // never happens: the simulator frees idle allocs only
	}
	life := (e.now - a.grantAt).Seconds()
	e.acc.allocated += a.cpu * life
	switch {
	case !a.everRan:
		e.acc.wasteNever += a.cpu * life
	case a.running == 0:
		e.acc.wasteTail += a.cpu * (e.now - a.idleSince).Seconds()
	}
	e.acc.cost += e.bill(e.now-a.launchAt, a.cpu)
	e.acc.releases++
	e.recent = keep(e.recent, stealer.Change{Time: epoch.Add(e.now), Kind: stealer.Released, Resources: a.resMap}, keepChanges)
	e.releases = append(e.releases, release{at: e.now, window: a.window})
	e.maxWindow = max(e.maxWindow, a.window)
	e.launchQueued()
}

// History sizes: how much of the past a snapshot carries, as a
// stealer.Stealer's does.
const (
	keepLatencies = 32  // granted latencies, and cancelled requests' waits
	keepChanges   = 256 // acquisitions and releases
)

// keep appends v to s and keeps the last n.
func keep[T any](s []T, v T, n int) []T {
	s = append(s, v)
	if len(s) > n {
		s = slices.Delete(s, 0, len(s)-n)
	}
	return s
}
