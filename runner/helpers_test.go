package runner

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
)

// counter counts the runs of Func tasks by name.
type counter struct {
	mu   sync.Mutex
	runs map[string]int
}

func (c *counter) inc(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.runs == nil {
		c.runs = map[string]int{}
	}
	c.runs[name]++
}

func (c *counter) get(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs[name]
}

// funcTask returns a task that runs f (or nothing) and counts its runs.
func (c *counter) task(name string, res ebb.Resources, f func(ctx context.Context) error, after ...string) ebb.Task {
	return ebb.Task{
		Name: name, FuncKey: "test/" + name, Resources: res, After: after,
		Func: func(ctx context.Context, _ ebb.FuncEnv) error {
			c.inc(name)
			if f != nil {
				return f(ctx)
			}
			return nil
		},
	}
}

// diamond returns a flow of width tasks between a source and a sink.
func (c *counter) diamond(width int, res ebb.Resources) *ebb.Flow {
	f := &ebb.Flow{Name: "diamond"}
	f.Tasks = append(f.Tasks, c.task("source", res, nil))
	var mids []string
	for i := range width {
		name := fmt.Sprintf("mid-%02d", i)
		mids = append(mids, name)
		f.Tasks = append(f.Tasks, c.task(name, res, nil, "source"))
	}
	f.Tasks = append(f.Tasks, c.task("sink", res, nil, mids...))
	return f
}

// newEval returns a new Eval of flow configured by cfg (with no cache,
// every task runs).
func newEval(t *testing.T, flow *ebb.Flow, cfg EvalConfig) *Eval {
	t.Helper()
	g, err := flow.Graph()
	if err != nil {
		t.Fatal(err)
	}
	digests, err := g.Digests(nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEval(t.Context(), g, digests, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func memPool(t *testing.T, nodes ...ebb.Resources) *pooltest.Pool {
	t.Helper()
	p := pooltest.NewPool(pooltest.PoolConfig{Nodes: nodes})
	t.Cleanup(func() { p.Close() })
	return p
}

func static(p pool.Pool) cluster.Cluster { return cluster.NewStatic(p) }

// liveAllocs returns the IDs of p's live allocs.
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

// memStore is a StateStore in memory that keeps every State saved.
type memStore struct {
	mu    sync.Mutex
	saved []State
}

func (m *memStore) Load(ctx context.Context) (*State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.saved) == 0 {
		return nil, ebb.ErrNotExist
	}
	s := m.saved[len(m.saved)-1]
	return &s, nil
}

func (m *memStore) Save(ctx context.Context, s *State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.saved = append(m.saved, *s)
	return nil
}

func (m *memStore) phases() []Phase {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Phase
	for _, s := range m.saved {
		if len(out) == 0 || out[len(out)-1] != s.Phase {
			out = append(out, s.Phase)
		}
	}
	return out
}

// advance moves a synctest bubble's fake clock on by d, then waits until
// every goroutine in the bubble is blocked again.
func advance(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// cpuAlloc takes an alloc of cpu cpus from p, freed when the test ends.
func cpuAlloc(t *testing.T, p pool.Pool, cpu float64) pool.Alloc {
	t.Helper()
	a, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: ebb.Resources{ebb.CPU: cpu}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Free(context.Background()) })
	return a
}

// timedTask returns a task of cpu cpus that runs for run, or until its
// context is done, its duration said (Estimate).
func timedTask(name string, cpu float64, run time.Duration, after ...string) ebb.Task {
	tk := ebb.Task{Name: name, FuncKey: name, Resources: ebb.Resources{ebb.CPU: cpu}, After: after,
		Func: func(ctx context.Context, _ ebb.FuncEnv) error {
			select {
			case <-time.After(run):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}}
	tk.Estimate = run
	return tk
}

// runningOn returns how many tasks run on the primary (true) and on the
// auxiliary allocs (false).
func runningOn(e *Eval) map[bool]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	running := map[bool]int{}
	for _, w := range e.workers {
		running[w.primary] += w.running
	}
	return running
}
