package dashboard

import (
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/runner"
	"github.com/ebbflow/ebb/stealer"
)

// A task's state, as the page shows it.
type taskState uint8

const (
	stateWaiting taskState = iota // for other tasks
	stateReady                    // queued for an alloc
	stateRunning
	stateDone
	stateCached
	stateFailed
	numStates
)

var stateNames = [numStates]string{"waiting", "ready", "running", "done", "cached", "failed"}

// Bounds on what a model keeps, so that a long run's view stays small.
const (
	maxDecisions = 200  // the most recent stealer events
	maxPoints    = 1000 // capacity samples; halved when full
)

type taskRec struct {
	kind    int32
	state   taskState
	started time.Time // of its running try
}

type kindRec struct {
	name     string
	hint     time.Duration
	counts   [numStates]int
	finished int
	sum      time.Duration // of the finished, run tasks
	min, max time.Duration
}

// An allocRec is one alloc's life.
type allocRec struct {
	id        string
	primary   bool
	pool      string
	resources ebb.Resources
	start     time.Time
	end       time.Time // zero while held
	ended     string    // "released", "lost", "done"
	tasks     int       // tries started on it
	running   int
}

type workerRec struct {
	Worker
	gone bool
}

type decisionRec struct {
	time      time.Time
	kind      string
	alloc     string
	request   string
	resources string
	reason    string
	err       string
}

// A point is one capacity sample: the CPUs held, asked for (ready and
// running tasks) and running, at t.
type point struct {
	t                      time.Time
	held, demand, runningC float64
}

// model is what a Dashboard knows of its run, folded from the Source's
// events and statuses. It is not safe for concurrent use: the
// Dashboard's mutex guards it.
type model struct {
	tasks     []taskRec
	byName    map[string]int32
	cpu       []float64 // each task's cpu
	kinds     []kindRec
	durations stealer.Durations
	// demand sums the cpu of the ready and running tasks.
	demand, running float64

	allocs    map[string]*allocRec
	allocList []*allocRec // in order of appearance
	workers   map[string]*workerRec
	workerIDs []string

	decisions []decisionRec // a ring once full, oldest at next
	nextDec   int
	points    []point
	dropped   int
	events    int

	status Status
	polled bool
}

func newModel(flow *ebb.Flow) *model {
	m := &model{
		tasks:   make([]taskRec, len(flow.Tasks)),
		byName:  make(map[string]int32, len(flow.Tasks)),
		cpu:     make([]float64, len(flow.Tasks)),
		allocs:  map[string]*allocRec{},
		workers: map[string]*workerRec{},
	}
	kindIndex := map[string]int32{}
	for i := range flow.Tasks {
		t := &flow.Tasks[i]
		name := t.KindName()
		k, ok := kindIndex[name]
		if !ok {
			k = int32(len(m.kinds))
			kindIndex[name] = k
			m.kinds = append(m.kinds, kindRec{name: name})
		}
		m.kinds[k].hint = max(m.kinds[k].hint, t.Estimate)
		m.kinds[k].counts[stateWaiting]++
		m.tasks[i].kind = k
		m.byName[t.Name] = int32(i)
		m.cpu[i] = t.Resources[ebb.CPU]
	}
	return m
}

// set moves task t to state s, keeping the counts.
func (m *model) set(t int32, s taskState) {
	rec := &m.tasks[t]
	old := rec.state
	if old == s {
		return
	}
	k := &m.kinds[rec.kind]
	k.counts[old]--
	k.counts[s]++
	if old == stateReady || old == stateRunning {
		m.demand -= m.cpu[t]
	}
	if s == stateReady || s == stateRunning {
		m.demand += m.cpu[t]
	}
	if old == stateRunning {
		m.running -= m.cpu[t]
	}
	if s == stateRunning {
		m.running += m.cpu[t]
	}
	rec.state = s
}

// fold applies one event.
func (m *model) fold(ev runner.Event) {
	m.events++
	switch ev.Kind {
	case runner.EventDropped:
		m.dropped += ev.Dropped
		return
	case runner.EventStealer:
		if ev.Stealer != nil {
			m.stealer(*ev.Stealer)
		}
		return
	}
	t, ok := m.byName[ev.Task]
	if !ok {
		return // not this flow's: a bus may carry several runs
	}
	rec := &m.tasks[t]
	switch ev.Kind {
	case runner.EventQueued:
		m.leave(rec, ev.AllocID)
		m.set(t, stateReady)
	case runner.EventStarted:
		m.set(t, stateRunning)
		rec.started = ev.Time
		a := m.alloc(ev.AllocID, ev.Pool, ev.Time)
		a.tasks++
		a.running++
	case runner.EventFinished:
		if rec.state == stateRunning {
			m.leave(rec, ev.AllocID)
		}
		switch {
		case ev.Cached:
			m.set(t, stateCached)
		case ev.Error != "" || ev.ExitCode != 0:
			m.set(t, stateFailed)
		default:
			m.set(t, stateDone)
			k := &m.kinds[rec.kind]
			d := ev.Duration
			if k.finished == 0 || d < k.min {
				k.min = d
			}
			k.max = max(k.max, d)
			k.finished++
			k.sum += d
			m.durations.Observe(k.name, d)
		}
	case runner.EventRetried, runner.EventLost:
		if rec.state == stateRunning {
			m.leave(rec, ev.AllocID)
		}
		m.set(t, stateReady)
	}
}

// leave notes that the task rec no longer runs on alloc id.
func (m *model) leave(rec *taskRec, id string) {
	if rec.state != stateRunning {
		return
	}
	if a := m.allocs[id]; a != nil && a.running > 0 {
		a.running--
	}
}

// alloc returns the record of alloc id, made if new.
func (m *model) alloc(id, pool string, at time.Time) *allocRec {
	a := m.allocs[id]
	if a == nil {
		a = &allocRec{id: id, pool: pool, start: at}
		m.allocs[id] = a
		m.allocList = append(m.allocList, a)
	}
	if a.pool == "" {
		a.pool = pool
	}
	return a
}

func (m *model) stealer(ev stealer.Event) {
	d := decisionRec{time: ev.Time, kind: ev.Kind.String(), alloc: ev.AllocID, request: string(ev.RequestID), reason: ev.Reason}
	if len(ev.Resources) > 0 {
		d.resources = ev.Resources.String()
	}
	if ev.Err != nil {
		d.err = ev.Err.Error()
	}
	if len(m.decisions) < maxDecisions {
		m.decisions = append(m.decisions, d)
	} else {
		m.decisions[m.nextDec] = d
		m.nextDec = (m.nextDec + 1) % maxDecisions
	}
	switch ev.Kind {
	case stealer.EventGranted:
		a := m.alloc(ev.AllocID, "", ev.Time)
		a.start = minTime(a.start, ev.Time)
		a.resources = ev.Resources.Clone()
		a.end, a.ended = time.Time{}, ""
	case stealer.EventReleased, stealer.EventLost:
		if a := m.allocs[ev.AllocID]; a != nil && a.end.IsZero() {
			a.end, a.ended, a.running = ev.Time, ev.Kind.String(), 0
		}
	}
}

// poll takes in a Source's status at now, and samples the capacity.
func (m *model) poll(st Status, now time.Time) {
	m.status, m.polled = st, true
	s := &st.State
	if p := s.Primary; p != nil && p.ID != "" {
		a := m.alloc(p.ID, p.Pool, p.Since)
		a.primary = true
		if !p.Since.IsZero() {
			a.start = minTime(a.start, p.Since)
		}
		if len(a.resources) == 0 {
			a.resources = p.Inspect.Resources.Clone()
		}
	}
	for _, ref := range s.Aux {
		a := m.alloc(ref.ID, ref.Pool, ref.Since)
		if len(a.resources) == 0 {
			a.resources = ref.Inspect.Resources.Clone()
		}
	}
	// A primary that is no longer the State's was given back (the run
	// is over, or retries with a new one).
	for _, a := range m.allocList {
		if a.primary && a.end.IsZero() && (s.Primary == nil || s.Primary.ID != a.id) {
			a.end, a.ended, a.running = now, "released", 0
		}
	}
	if s.Phase == runner.PhaseDone {
		end := s.Completion
		if end.IsZero() {
			end = now
		}
		for _, a := range m.allocList {
			if a.end.IsZero() {
				e := end
				if e.Before(a.start) {
					e = a.start
				}
				a.end, a.ended, a.running = e, "done", 0
			}
		}
	}
	seen := make(map[string]bool, len(st.Workers))
	for _, w := range st.Workers {
		seen[w.ID] = true
		rec := m.workers[w.ID]
		if rec == nil {
			rec = &workerRec{}
			m.workers[w.ID] = rec
			m.workerIDs = append(m.workerIDs, w.ID)
		}
		rec.Worker, rec.gone = w, false
	}
	for id, rec := range m.workers {
		if !seen[id] {
			rec.gone, rec.Terminating = true, false
		}
	}
	m.sample(now)
}

// sample adds a capacity point at now.
func (m *model) sample(now time.Time) {
	held := 0.0
	for _, a := range m.allocList {
		if a.end.IsZero() {
			held += a.resources[ebb.CPU]
		}
	}
	p := point{t: now, held: held, demand: m.demand, runningC: m.running}
	if n := len(m.points); n > 0 && now.Before(m.points[n-1].t) {
		return
	}
	if len(m.points) == maxPoints {
		// Keep the whole run, at half the resolution.
		half := m.points[:0]
		for i := 0; i < len(m.points); i += 2 {
			half = append(half, m.points[i])
		}
		m.points = half
	}
	m.points = append(m.points, p)
}

func minTime(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
