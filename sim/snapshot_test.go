package sim

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

// heldChecker passes every snapshot to a policy, and checks first that
// the capacity held the engine keeps as allocs change (for
// Critical.Packed) is what the snapshot says. It drains one busy alloc
// too, which stays held while it drains.
type heldChecker struct {
	t      *testing.T
	p      stealer.Policy
	e      *engine
	checks int
	busy   string // the busy alloc drained
}

func (c *heldChecker) Plan(s stealer.Snapshot) stealer.Plan {
	want, _ := s.HeldCPU()
	if got := c.e.heldUp + s.Others[0].HeldCPU(); math.Abs(got-want) > 1e-9 {
		c.t.Errorf("at %v: held capacity kept as %v cpus, the snapshot says %v", s.Now.Sub(epoch), got, want)
	}
	c.checks++
	p := c.p.Plan(s)
	for _, h := range s.Held {
		if c.busy == "" && h.Working && h.Running > 0 {
			c.busy = h.ID
			p.Drain = append(p.Drain, stealer.Drain{AllocID: h.ID, Reason: "drained busy"})
		}
	}
	return p
}

// The capacity held that the engine keeps for Critical.Packed follows
// every grant, drain and release of a run of the default policy, and a
// busy alloc drained.
func TestHeldCapacityKept(t *testing.T) {
	w, err := Standard("staged", StdConfig{Seed: 1, Tasks: 200})
	if err != nil {
		t.Fatal(err)
	}
	c := &heldChecker{t: t}
	e := defaultEngine(t, w, func(p stealer.Policy) stealer.Policy { c.p = p; return c })
	c.e = e
	if err := e.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.checks == 0 || e.acc.acquisitions == 0 || e.acc.drains == 0 || c.busy == "" {
		t.Fatalf("%d snapshots, %d acquisitions, %d drains, busy alloc drained %q: want a run that buys and drains, a busy alloc too",
			c.checks, e.acc.acquisitions, e.acc.drains, c.busy)
	}
}

// Each task's lineage (stealer.Lineage) is what the tasks it waits on
// took against their kinds' estimates as each finished, as runner.Eval
// keeps it: two samples go through steps a then b, the second sample
// three times the first at each step; a join waits on both.
func TestLineageKept(t *testing.T) {
	one := ebb.Resources{ebb.CPU: 1}
	w := &Workload{Name: "samples", Tasks: []Task{
		{ID: "a1", Kind: "a", Duration: time.Minute, Resources: one},
		{ID: "a2", Kind: "a", Duration: 3 * time.Minute, Resources: one},
		{ID: "b1", Kind: "b", Duration: time.Minute, Resources: one, Deps: []int{0}},
		{ID: "b2", Kind: "b", Duration: 3 * time.Minute, Resources: one, Deps: []int{1}},
		{ID: "join", Kind: "join", Duration: time.Second, Resources: one, Deps: []int{2, 3}},
	}}
	e := defaultEngine(t, w, nil)
	if err := e.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// a1 ends first, of a kind nothing was known of: it says nothing.
	// a2 ran 3 min where a1 said 1: b2's lineage is 3×, b1's empty.
	// b1 ends first; b2 ran 3 min where b1 said 1. The join weighs
	// both chains alike: (0 + 3 + 3) / 2 min against (0 + 1 + 1) / 2.
	want := []stealer.Lineage{{}, {}, {}, {Took: 180, Expected: 60}, {Took: 180, Expected: 60}}
	for i, l := range e.lineage {
		if l != want[i] {
			t.Errorf("task %s: lineage %+v, want %+v", w.Tasks[i].ID, l, want[i])
		}
	}
}

// defaultEngine returns an engine ready to run w under the default
// policy on the default cluster, seed 1, the policy wrapped by wrap when
// it is not nil.
func defaultEngine(t *testing.T, w *Workload, wrap func(stealer.Policy) stealer.Policy) *engine {
	t.Helper()
	cl, err := Cluster{}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	var p stealer.Policy
	if p, err = stealer.NewDefault(stealer.DefaultConfig{}); err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		p = wrap(p)
	}
	e, err := newEngine(Config{Workload: w, Policy: p, Seed: 1}, cl)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
