package stealer_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
	"github.com/ebbflow/ebb/runner"
	"github.com/ebbflow/ebb/stealer"
)

var oneCPU = ebb.Resources{ebb.CPU: 1}

// book records what a stealer did: its events, and the auxiliary allocs
// it held over time.
type book struct {
	mu       sync.Mutex
	events   []stealer.Event
	held     map[string]bool
	maxHeld  int
	acquired []string
	released map[string]time.Time
	runs     map[string]int // task name → runs
}

func newBook() *book {
	return &book{held: map[string]bool{}, released: map[string]time.Time{}, runs: map[string]int{}}
}

func (b *book) config(c cluster.Cluster) stealer.Config {
	return stealer.Config{
		Cluster: c,
		OnEvent: func(e stealer.Event) {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.events = append(b.events, e)
		},
		OnAcquire: func(ctx context.Context, a pool.Alloc) error {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.held[a.ID()] = true
			b.acquired = append(b.acquired, a.ID())
			b.maxHeld = max(b.maxHeld, len(b.held))
			return nil
		},
		OnRelease: func(ctx context.Context, id string) {
			b.mu.Lock()
			defer b.mu.Unlock()
			delete(b.held, id)
			b.released[id] = time.Now()
		},
	}
}

func (b *book) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var s strings.Builder
	for _, e := range b.events {
		fmt.Fprintf(&s, "  %s %-9s %s\n", e.Time.Format("15:04:05.000"), e.Kind, e.Reason)
	}
	return s.String()
}

// sleeper returns a task that holds one cpu for d and counts its runs.
func (b *book) sleeper(name string, d time.Duration, after ...string) ebb.Task {
	return ebb.Task{
		Name: name, FuncKey: "test/" + name, Resources: oneCPU, After: after,
		Func: func(ctx context.Context, _ ebb.FuncEnv) error {
			b.mu.Lock()
			b.runs[name]++
			b.mu.Unlock()
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	}
}

// setup makes a pool with a 2-cpu node for the primary and eight 4-cpu
// nodes for auxiliary allocs, an eval of flow, and the primary working for
// it. The returned channel gets the primary's Work error.
func setup(t *testing.T, flow *ebb.Flow) (*pooltest.Pool, *runner.Eval, pool.Alloc, <-chan error) {
	t.Helper()
	nodes := []ebb.Resources{{ebb.CPU: 2}}
	for range 8 {
		nodes = append(nodes, ebb.Resources{ebb.CPU: 4})
	}
	p := pooltest.NewPool(pooltest.PoolConfig{Nodes: nodes})
	t.Cleanup(func() { p.Close() })
	g, err := flow.Graph()
	if err != nil {
		t.Fatal(err)
	}
	digests, err := g.Digests(nil)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := runner.NewEval(t.Context(), g, digests, runner.EvalConfig{})
	if err != nil {
		t.Fatal(err)
	}
	primary, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 2}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	workc := make(chan error, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Hour)
	t.Cleanup(cancel)
	go func() { workc <- ev.Work(ctx, primary) }()
	synctest.Wait() // the primary works before the stealer looks
	return p, ev, primary, workc
}

func liveAllocs(t *testing.T, p pool.Pool) []string {
	t.Helper()
	allocs, err := p.Allocs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range allocs {
		ids = append(ids, a.ID())
	}
	return ids
}

// A flow of 50 one-minute tasks on a primary that fits 2 finishes on
// auxiliary allocs, every task run once, and every auxiliary alloc freed.
func TestFlowOnAuxiliaryAllocs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBook()
		flow := &ebb.Flow{Name: "fifty"}
		for i := range 50 {
			flow.Tasks = append(flow.Tasks, b.sleeper(fmt.Sprintf("t%02d", i), time.Minute))
		}
		p, ev, primary, workc := setup(t, flow)
		s, err := stealer.New(b.config(cluster.NewStatic(p)))
		if err != nil {
			t.Fatal(err)
		}
		begin := time.Now()
		// A deadline in fake time turns a regression that never ends
		// (lost tasks requeued, bought and lost again) into a failure.
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Hour)
		defer cancel()
		runc := make(chan error, 1)
		go func() { runc <- s.Run(ctx, ev) }()
		if err := ev.Wait(ctx); err != nil {
			t.Fatalf("eval: %v (progress %+v)", err, ev.Progress())
		}
		makespan := time.Since(begin)
		if err := <-runc; err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
		if err := <-workc; err != nil {
			t.Errorf("primary Work = %v, want nil", err)
		}

		// 2 + 8×4 = 34 slots: two waves of a minute.
		if makespan > 2*time.Minute+2*time.Second {
			t.Errorf("makespan %v, want about two waves of 1m\n%s", makespan, b)
		}
		if got := ev.Progress(); got.Done != 50 || got.Lost != 0 {
			t.Errorf("progress %+v, want 50 done and none lost (no busy alloc freed)", got)
		}
		for _, task := range flow.Tasks {
			if n := b.runs[task.Name]; n != 1 {
				t.Errorf("task %s ran %d times, want 1", task.Name, n)
			}
		}
		if got := liveAllocs(t, p); !slices.Equal(got, []string{primary.ID()}) {
			t.Errorf("live allocs after the run %v, want only the primary %s", got, primary.ID())
		}
		st := p.Stats()
		if aux := st.Allocs - 1; aux < 1 || st.Frees != aux || len(b.acquired) != aux || len(b.released) != aux || len(b.held) != 0 {
			t.Errorf("pool stats %+v, recorded %d acquired and %d released (%d still held): want every auxiliary alloc freed",
				st, len(b.acquired), len(b.released), len(b.held))
		}
		// A request narrower than a node leaves a remainder that another
		// alloc may take, so more allocs than nodes can be held at once.
		if b.maxHeld < 8 {
			t.Errorf("at most %d auxiliary allocs held, want all 8 nodes used\n%s", b.maxHeld, b)
		}
		t.Logf("makespan %v, %d auxiliary allocs, at most %d at once", makespan, st.Allocs-1, b.maxHeld)
		primary.Free(t.Context())
	})
}

// Auxiliary allocs that go idle while a long last task runs are drained and
// freed long before the flow ends; none is freed while it runs a task.
func TestIdleAuxiliaryAllocsFreedMidRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBook()
		flow := &ebb.Flow{Name: "wide-then-long"}
		var wide []string
		for i := range 12 {
			name := fmt.Sprintf("wide%02d", i)
			wide = append(wide, name)
			flow.Tasks = append(flow.Tasks, b.sleeper(name, time.Minute))
		}
		flow.Tasks = append(flow.Tasks, b.sleeper("tail", 30*time.Minute, wide...))
		p, ev, primary, workc := setup(t, flow)
		cfg := b.config(cluster.NewStatic(p))
		policy, err := stealer.NewDefault(stealer.DefaultConfig{IdleTimeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Policy = policy
		s, err := stealer.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		// A deadline in fake time turns a regression that never ends
		// (lost tasks requeued, bought and lost again) into a failure.
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Hour)
		defer cancel()
		runc := make(chan error, 1)
		go func() { runc <- s.Run(ctx, ev) }()
		if err := ev.Wait(ctx); err != nil {
			t.Fatalf("eval: %v (progress %+v)", err, ev.Progress())
		}
		end := time.Now()
		<-runc
		<-workc

		early := 0
		for id, at := range b.released {
			if end.Sub(at) > 25*time.Minute {
				early++
			} else {
				t.Logf("alloc %s released at the end", id)
			}
		}
		if early == 0 || early < len(b.acquired)-1 {
			t.Errorf("%d of %d auxiliary allocs released while the tail ran, want all but at most the one running it\n%s",
				early, len(b.acquired), b)
		}
		drained := 0
		for _, e := range b.events {
			if e.Kind == stealer.EventDrained {
				drained++
				if !strings.Contains(e.Reason, "idle") {
					t.Errorf("drained: %q, want it to say idle", e.Reason)
				}
			}
		}
		if drained < early {
			t.Errorf("%d drains for %d early releases: every early release must be drained first", drained, early)
		}
		t.Logf("events:\n%s", b)
		if got := ev.Progress(); got.Done != 13 || got.Lost != 0 {
			t.Errorf("progress %+v, want 13 done and none lost (no busy alloc freed)", got)
		}
		for name, n := range b.runs {
			if n != 1 {
				t.Errorf("task %s ran %d times", name, n)
			}
		}
		if got := liveAllocs(t, p); !slices.Equal(got, []string{primary.ID()}) {
			t.Errorf("live allocs after the run %v, want only the primary", got)
		}
		primary.Free(t.Context())
	})
}

// A policy that drains every auxiliary alloc as soon as it works still
// kills no task: each drained alloc finishes what it took, and only then is
// it freed. The flow finishes, every task run once.
func TestHostileDrainsKillNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBook()
		flow := &ebb.Flow{Name: "hostile"}
		for i := range 20 {
			flow.Tasks = append(flow.Tasks, b.sleeper(fmt.Sprintf("t%02d", i), time.Minute))
		}
		p, ev, primary, workc := setup(t, flow)
		// Allocations that take time make every cycle of a regression
		// (free a busy alloc, lose its tasks, buy again) move the clock
		// towards the deadline, instead of spinning in one instant.
		p.SetDelay(pooltest.OpAccept, time.Second)
		def, err := stealer.NewDefault(stealer.DefaultConfig{})
		if err != nil {
			t.Fatal(err)
		}
		cfg := b.config(cluster.NewStatic(p))
		cfg.Policy = stealer.PolicyFunc(func(s stealer.Snapshot) stealer.Plan {
			plan := def.Plan(s)
			for _, h := range s.Held {
				if h.Working && !h.Draining && h.Running > 0 {
					plan.Drain = append(plan.Drain, stealer.Drain{AllocID: h.ID, Reason: "drain while busy"})
				}
			}
			return plan
		})
		s, err := stealer.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		// A deadline in fake time turns a regression that never ends
		// (lost tasks requeued, bought and lost again) into a failure.
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Hour)
		defer cancel()
		runc := make(chan error, 1)
		go func() { runc <- s.Run(ctx, ev) }()
		if err := ev.Wait(ctx); err != nil {
			t.Fatalf("eval: %v (progress %+v)", err, ev.Progress())
		}
		<-runc
		<-workc
		if got := ev.Progress(); got.Done != 20 || got.Lost != 0 {
			t.Errorf("progress %+v, want 20 done and none lost\n%s", got, b)
		}
		for name, n := range b.runs {
			if n != 1 {
				t.Errorf("task %s ran %d times", name, n)
			}
		}
		if got := liveAllocs(t, p); !slices.Equal(got, []string{primary.ID()}) {
			t.Errorf("live allocs after the run %v, want only the primary", got)
		}
		primary.Free(t.Context())
	})
}
