package runner

import (
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
	"github.com/ebbflow/ebb/repository/repositorytest"
	"github.com/ebbflow/ebb/stealer"
)

// wide returns n independent tasks of one cpu that take d each.
func (c *counter) wide(n int, d time.Duration) *ebb.Flow {
	flow := &ebb.Flow{Name: "wide"}
	for i := range n {
		name := fmt.Sprintf("t%02d", i)
		flow.Tasks = append(flow.Tasks, ebb.Task{Name: name, FuncKey: name, Resources: oneCPU, Func: slowFunc(c, name, d)})
	}
	return flow
}

// events collects a stealer's events.
type events struct {
	mu  sync.Mutex
	all []stealer.Event
}

func (e *events) add(ev stealer.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) count(kind stealer.EventKind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

// A 50-task flow on a primary that fits 2 tasks finishes on auxiliary allocs
// and gives all of them back.
func TestElasticRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		nodes := []ebb.Resources{{ebb.CPU: 2}}
		for range 8 {
			nodes = append(nodes, ebb.Resources{ebb.CPU: 4})
		}
		p := pooltest.NewPool(pooltest.PoolConfig{Nodes: nodes})
		defer p.Close()
		var ev events
		store := &memStore{}
		r, err := New(Config{
			Flow: c.wide(50, 10*time.Minute), Cluster: static(p), Aux: static(p), Store: store,
			Primary: ebb.Requirements{Min: ebb.Resources{ebb.CPU: 2}},
			Steal:   StealConfig{OnEvent: ev.add},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := r.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		// 2 + 8×4 = 34 slots: two waves of ten minutes.
		if d := time.Since(start); d > 25*time.Minute {
			t.Errorf("run took %v; with auxiliary allocs it takes two waves of 10m", d)
		}
		for i := range 50 {
			if n := c.get(fmt.Sprintf("t%02d", i)); n != 1 {
				t.Errorf("task t%02d ran %d times", i, n)
			}
		}
		s := r.State()
		if s.Allocs < 2 || len(s.Aux) != 0 || s.Primary != nil {
			t.Errorf("state: %d allocs taken, aux %v, primary %v; want several taken, none left", s.Allocs, s.Aux, s.Primary)
		}
		if ids := liveAllocs(t, p); len(ids) != 0 {
			t.Errorf("allocs left: %v", ids)
		}
		if ev.count(stealer.EventGranted) == 0 || ev.count(stealer.EventReleased) != ev.count(stealer.EventGranted) {
			t.Errorf("events: %d granted, %d released", ev.count(stealer.EventGranted), ev.count(stealer.EventReleased))
		}
		// Every auxiliary alloc was in a saved State before it ran work.
		saved := map[string]bool{}
		for _, st := range store.saved {
			for _, a := range st.Aux {
				saved[a.ID] = true
			}
		}
		if len(saved) != s.Allocs-1 {
			t.Errorf("%d auxiliary allocs saved in State, %d taken", len(saved), s.Allocs-1)
		}
	})
}

// A resumed run takes over the auxiliary allocs its State names that still
// live, and forgets those that do not; none is leaked.
func TestResumeTakesOverAuxAllocs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := pooltest.NewPool(pooltest.PoolConfig{Nodes: []ebb.Resources{{ebb.CPU: 2}, {ebb.CPU: 2}, {ebb.CPU: 2}}, Lease: time.Hour})
		defer p.Close()
		flow := c.wide(6, time.Minute)
		cfg := Config{Flow: flow, Cluster: static(p), Aux: static(p), Primary: ebb.Requirements{Min: ebb.Resources{ebb.CPU: 2}}}
		r, err := New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		saved := r.State()
		// The crashed driver held two auxiliary allocs: one still alive,
		// one gone.
		two := ebb.Requirements{Min: ebb.Resources{ebb.CPU: 2}}
		live, _ := pool.Allocate(t.Context(), p, two, nil)
		dead, _ := pool.Allocate(t.Context(), p, two, nil)
		for _, a := range []pool.Alloc{live, dead} {
			saved.Aux = append(saved.Aux, AllocRef{Pool: p.ID(), ID: a.ID(), Since: time.Now()})
		}
		p.Kill(dead.ID())
		r, err = New(cfg, &saved)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		if ids := liveAllocs(t, p); len(ids) != 0 {
			t.Errorf("allocs left: %v", ids)
		}
		if s := r.State(); len(s.Aux) != 0 {
			t.Errorf("aux left in state: %v", s.Aux)
		}
		if st := p.Stats(); st.Frees < 2 {
			t.Errorf("%d frees, want the primary and the taken-over alloc", st.Frees)
		}
	})
}

// resumeOverAux runs, resumed, a flow of one task of one cpu taking d,
// whose State names an auxiliary alloc of p (a node of one cpu, the
// primary the other), where the task's exec runs when put is set. fail
// sets p's faults before the resume. It returns how many times the task
// ran, and how long the resumed run took.
func resumeOverAux(t *testing.T, p *pooltest.Pool, d time.Duration, put bool, fail func()) (runs int, took time.Duration) {
	t.Helper()
	var c counter
	flow := c.wide(1, d)
	cfg := Config{Flow: flow, Cluster: static(p), Aux: static(p),
		Primary: ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, Keepalive: pool.KeepaliveConfig{Lease: time.Minute}}
	r, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	saved := r.State()
	aux, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if put {
		g, _ := flow.Graph()
		digests, _ := g.Digests(nil)
		task := flow.Tasks[0]
		if _, err := aux.Put(t.Context(), digests[0], pool.ExecConfig{Func: task.Func, Resources: task.Resources}); err != nil {
			t.Fatal(err)
		}
	}
	saved.Aux = append(saved.Aux, AllocRef{Pool: p.ID(), ID: aux.ID(), Since: time.Now()})
	fail()
	if r, err = New(cfg, &saved); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := r.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s := r.State(); len(s.Aux) != 0 {
		t.Errorf("aux left in state: %v", s.Aux)
	}
	return c.get("t00"), time.Since(start)
}

// A resumed run whose cluster does not answer for an auxiliary alloc at
// first (ebb.ErrUnavailable) asks again, and takes the alloc over: the
// task whose exec runs there finishes once, and the alloc is freed.
func TestResumeRetriesAuxAllocUnavailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pooltest.NewPool(pooltest.PoolConfig{Nodes: []ebb.Resources{{ebb.CPU: 1}, {ebb.CPU: 1}}, Lease: time.Hour})
		defer p.Close()
		runs, _ := resumeOverAux(t, p, time.Minute, true, func() {
			p.FailNext(pooltest.OpAlloc, ebb.ErrUnavailable)
			p.FailNext(pooltest.OpKeepalive, ebb.ErrUnavailable)
		})
		if runs != 1 {
			t.Errorf("the task ran %d times, want once: the alloc was given up while its exec ran", runs)
		}
		if ids := liveAllocs(t, p); len(ids) != 0 {
			t.Errorf("allocs left: %v", ids)
		}
	})
}

// A resumed run whose cluster never answers for an auxiliary alloc
// gives it up once the alloc's lease has surely lapsed, and runs its task
// elsewhere.
func TestResumeGivesUpAuxAllocAfterLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pooltest.NewPool(pooltest.PoolConfig{Nodes: []ebb.Resources{{ebb.CPU: 1}, {ebb.CPU: 1}}, Lease: time.Minute})
		defer p.Close()
		runs, took := resumeOverAux(t, p, time.Second, false, func() {
			for range 100 {
				p.FailNext(pooltest.OpAlloc, ebb.ErrUnavailable)
			}
		})
		if took < time.Minute {
			t.Errorf("the run gave the alloc up after %v, before its lease of 1m could lapse", took)
		}
		if st := p.Stats(); st.Calls[pooltest.OpAlloc] > 20 {
			t.Errorf("%d Alloc calls: want a few, paced, and none once the lease has lapsed", st.Calls[pooltest.OpAlloc])
		}
		if runs != 1 {
			t.Errorf("the task ran %d times, want once", runs)
		}
	})
}

// A task too big for the primary's cluster runs on an auxiliary alloc.
func TestTaskOnlyAuxCanHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		small := pooltest.NewPool(pooltest.PoolConfig{ID: "small", Nodes: []ebb.Resources{{ebb.CPU: 2}}})
		defer small.Close()
		big := pooltest.NewPool(pooltest.PoolConfig{ID: "big", Nodes: []ebb.Resources{{ebb.CPU: 16}}})
		defer big.Close()
		flow := &ebb.Flow{Tasks: []ebb.Task{
			{Name: "prep", FuncKey: "prep", Resources: oneCPU, Func: slowFunc(&c, "prep", time.Minute)},
			{Name: "wide", FuncKey: "wide", Resources: ebb.Resources{ebb.CPU: 12}, Func: slowFunc(&c, "wide", time.Minute), After: []string{"prep"}},
		}}
		r, err := New(Config{Flow: flow, Cluster: static(small), Aux: static(big), Primary: ebb.Requirements{Min: oneCPU}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		if c.get("wide") != 1 || r.State().Allocs != 2 {
			t.Errorf("wide ran %d times with %d allocs taken; want once, on an auxiliary alloc", c.get("wide"), r.State().Allocs)
		}
	})
}

// The latencies an elastic run's stealer observed are kept in the
// flow's history, and the next run's stealer starts from them.
func TestElasticRunKeepsLatencies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := pooltest.NewPool(pooltest.PoolConfig{Nodes: []ebb.Resources{{ebb.CPU: 1}, {ebb.CPU: 4}}})
		defer p.Close()
		repo, cache := repositorytest.NewStore(), repositorytest.NewCache()
		var first [][]time.Duration // each run's first snapshot's Latency
		run := func(version string) {
			flow := c.wide(4, 10*time.Minute)
			for i := range flow.Tasks {
				flow.Tasks[i].FuncKey += version // not in the cache
			}
			seen := false
			def, err := stealer.NewDefault(stealer.DefaultConfig{})
			if err != nil {
				t.Fatal(err)
			}
			policy := stealer.PolicyFunc(func(s stealer.Snapshot) stealer.Plan {
				if !seen {
					first, seen = append(first, s.Latency), true
				}
				return def.Plan(s)
			})
			r, err := New(Config{Flow: flow, Cluster: static(p), Aux: static(p), Repository: repo, Cache: cache,
				Primary: ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, Steal: StealConfig{Policy: policy}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Run(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		run("a")
		h, err := loadHistory(t.Context(), cache, repo, c.wide(4, 0))
		if err != nil || len(h.Cluster.Latency) == 0 {
			t.Fatalf("history after an elastic run: %+v, %v; want the latencies of its grants", h.Cluster, err)
		}
		run("b")
		if len(first) != 2 || len(first[0]) != 0 || len(first[1]) != len(h.Cluster.Latency) {
			t.Errorf("first snapshots' latencies %v, want none, then the %d the first run observed", first, len(h.Cluster.Latency))
		}
	})
}
