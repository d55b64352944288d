package sim

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
	"github.com/ebbflow/ebb/stealer"
)

// admitScript is a policy that makes, step by step, plans a Stealer must
// partly refuse: invalid and empty requests, more than MaxPending, cancels
// of unknown and twice-named requests, drains of unknown and twice-named
// allocs. Each step waits for a state of the snapshot (not for a time), so
// that the simulator and a real Stealer, whose timings differ, go through
// the same steps. What each runtime admits is recorded per step, with
// request and alloc IDs replaced by their place in the step's snapshot.
type admitScript struct {
	mu     sync.Mutex // a Stealer's events come from its loop, the test reads the log
	step   int
	last   chan struct{}     // closed when the last step was planned
	ids    map[string]string // real ID → P0, H1 …
	log    [][]string        // per step
	opened func()            // called when the script wants grants
	// openOnCancel says that opened is called once the cancel of step 1
	// is applied: a grant let through before would make the cancel come
	// too late, depending on which goroutine runs first.
	openOnCancel bool
}

func (sc *admitScript) Plan(s stealer.Snapshot) stealer.Plan {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	one := stealer.Request{Requirements: ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, Reason: "one"}
	var p stealer.Plan
	switch {
	case sc.step == 0 && len(s.Demand) > 0 && len(s.Pending) == 0:
		p.Acquire = []stealer.Request{
			{Requirements: ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}, Width: -1}, Reason: "bad"},
			{Reason: "empty"}, one, one, one, one,
		}
	case sc.step == 1 && len(s.Pending) == 2:
		p0 := s.Pending[0].ID
		p.Cancel = []stealer.Cancel{{ID: p0, Reason: "c1"}, {ID: p0, Reason: "c2"}, {ID: "zz", Reason: "c3"}}
		p.Drain = []stealer.Drain{{AllocID: "nope", Reason: "d1"}}
		p.Acquire = []stealer.Request{one, one}
		sc.openOnCancel = sc.opened != nil
	case sc.step == 2 && len(s.Held) == 2 && s.Held[0].Working && s.Held[1].Working:
		h0, h1 := s.Held[0].ID, s.Held[1].ID
		p.Drain = []stealer.Drain{{AllocID: h0, Reason: "d2"}, {AllocID: h0, Reason: "d3"}, {AllocID: h1, Reason: "d4"}}
		p.Cancel = []stealer.Cancel{{ID: "r99", Reason: "c4"}}
	default:
		return p
	}
	sc.ids = map[string]string{}
	for i, r := range s.Pending {
		sc.ids[string(r.ID)] = fmt.Sprintf("P%d", i)
	}
	for i, h := range s.Held {
		sc.ids[h.ID] = fmt.Sprintf("H%d", i)
	}
	sc.step++
	sc.log = append(sc.log, nil)
	if sc.step == 3 && sc.last != nil {
		close(sc.last)
	}
	return p
}

var idWord = regexp.MustCompile(`\b[a-z]?[0-9a-zA-Z_-]+\b`)

// record notes one admitted or refused item of the current step.
func (sc *admitScript) record(kind, what string) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if len(sc.log) == 0 {
		return
	}
	what = idWord.ReplaceAllStringFunc(what, func(w string) string {
		if n, ok := sc.ids[w]; ok {
			return n
		}
		return w
	})
	i := len(sc.log) - 1
	sc.log[i] = append(sc.log[i], kind+" "+what)
	if kind == "cancel" && sc.openOnCancel {
		sc.openOnCancel = false
		sc.opened()
	}
}

func (sc *admitScript) steps() [][]string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	out := make([][]string, len(sc.log))
	for i, l := range sc.log {
		out[i] = slices.Sorted(slices.Values(l))
	}
	return out
}

// The simulator and a real Stealer admit exactly the same parts of the
// same plans: both apply stealer.Admit.
func TestAdmitRuntimeMatchesSimulator(t *testing.T) {
	const maxPending = 2
	var tasks []Task
	for i := range 8 {
		tasks = append(tasks, Task{ID: fmt.Sprintf("t%d", i), Duration: time.Hour, Resources: ebb.Resources{ebb.CPU: 1}})
	}
	w := &Workload{Name: "admit", Tasks: tasks}
	simScript := &admitScript{}
	cl, err := Cluster{Primary: ebb.Resources{ebb.CPU: 1}, Shapes: []ebb.Resources{{ebb.CPU: 4}},
		Boot: mustDist(t, "1m"), MaxPending: maxPending}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	e, err := newEngine(Config{Workload: w, Policy: simScript, Seed: 1}, cl)
	if err != nil {
		t.Fatal(err)
	}
	e.onAdmit = func(a stealer.Admitted) {
		for _, c := range a.Cancel {
			simScript.record("cancel", string(c.ID))
		}
		for _, d := range a.Drain {
			simScript.record("drain", d.AllocID)
		}
		for _, r := range a.Acquire {
			simScript.record("acquire", r.Reason)
		}
		for _, r := range a.Rejected {
			simScript.record("reject", r.Reason)
		}
	}
	if err := e.run(t.Context()); err != nil {
		t.Fatal(err)
	}

	var realScript *admitScript
	synctest.Test(t, func(t *testing.T) {
		p := pooltest.NewPool(pooltest.PoolConfig{Nodes: []ebb.Resources{{ebb.CPU: 4}, {ebb.CPU: 4}}})
		defer p.Close()
		gate := p.Hold(pooltest.OpAccept)
		realScript = &admitScript{opened: gate.Open, last: make(chan struct{})}
		ev := newAdmitEval(ebb.Demand{Resources: ebb.Resources{ebb.CPU: 1}, Count: 8})
		s, err := stealer.New(stealer.Config{
			Cluster: cluster.NewStatic(p), Policy: realScript, MaxPending: maxPending,
			OnEvent: func(ev stealer.Event) {
				switch ev.Kind {
				case stealer.EventCancelled:
					realScript.record("cancel", string(ev.RequestID))
				case stealer.EventDrained:
					realScript.record("drain", ev.AllocID)
				case stealer.EventRequested:
					realScript.record("acquire", ev.Reason)
				case stealer.EventRejected:
					realScript.record("reject", ev.Reason)
				}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, ev) }()
		select {
		case <-realScript.last:
			synctest.Wait() // the last plan applied
		case <-time.After(time.Hour):
			t.Error("the Stealer did not go through the script within an hour")
		}
		ev.finish()
		cancel()
		<-done
	})

	got, want := realScript.steps(), simScript.steps()
	if len(want) != 3 {
		t.Fatalf("the simulator went through %d steps of the script, want 3: %q", len(want), want)
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("a Stealer admitted\n%q\nthe simulator\n%q", got, want)
	}
	// What Admit must have refused, in the simulator as in the Stealer.
	if n := len(want[0]); n != 6 || !slices.Contains(want[0], "reject request refused: requirements min: asks for nothing: invalid (empty)") {
		t.Errorf("step 0 admitted %q, want 2 requests and 4 refusals, the empty one among them", want[0])
	}
}

func mustDist(t *testing.T, s string) Dist {
	d, err := ParseDist(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// admitEval is a stealer.Evaluator with a fixed demand, whose allocs run
// nothing: Work holds an alloc until it is drained or the run ends.
type admitEval struct {
	demand []ebb.Demand
	done   chan struct{}

	mu      sync.Mutex
	working map[string]*admitWorker
}

type admitWorker struct {
	alloc    pool.Alloc
	since    time.Time
	draining chan struct{}
}

func newAdmitEval(d ...ebb.Demand) *admitEval {
	return &admitEval{demand: d, done: make(chan struct{}), working: map[string]*admitWorker{}}
}

func (e *admitEval) finish()               { close(e.done) }
func (e *admitEval) Done() <-chan struct{} { return e.done }
func (e *admitEval) Demand() []ebb.Demand  { return slices.Clone(e.demand) }

func (e *admitEval) Load() []ebb.AllocLoad {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []ebb.AllocLoad
	for id, w := range e.working {
		out = append(out, ebb.AllocLoad{ID: id, Resources: w.alloc.Resources(), Free: w.alloc.Resources(), IdleSince: w.since})
	}
	return out
}

func (e *admitEval) Work(ctx context.Context, a pool.Alloc) error {
	w := &admitWorker{alloc: a, since: time.Now(), draining: make(chan struct{})}
	e.mu.Lock()
	e.working[a.ID()] = w
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.working, a.ID())
		e.mu.Unlock()
	}()
	select {
	case <-w.draining:
		return nil
	case <-e.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *admitEval) Drain(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	w, ok := e.working[id]
	if ok {
		close(w.draining)
	}
	return ok
}
