package sim

import (
	"context"
	"math"
	"testing"

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
	cl, err := Cluster{}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	p, err := stealer.NewDefault(stealer.DefaultConfig{})
	if err != nil {
		t.Fatal(err)
	}
	c := &heldChecker{t: t, p: p}
	e, err := newEngine(Config{Workload: w, Policy: c, Seed: 1}, cl)
	if err != nil {
		t.Fatal(err)
	}
	c.e = e
	if err := e.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.checks == 0 || e.acc.acquisitions == 0 || e.acc.drains == 0 || c.busy == "" {
		t.Fatalf("%d snapshots, %d acquisitions, %d drains, busy alloc drained %q: want a run that buys and drains, a busy alloc too",
			c.checks, e.acc.acquisitions, e.acc.drains, c.busy)
	}
}
