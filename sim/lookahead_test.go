package sim

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/ebbflow/ebb/stealer"
)

// sighted hides that the policy it wraps reads no lookahead, so the
// engine gives it Snapshot.Upcoming and Critical; it forwards the idle
// timeout the engine reads.
type sighted struct{ p stealer.Policy }

func (s sighted) Plan(sn stealer.Snapshot) stealer.Plan { return s.p.Plan(sn) }
func (s sighted) IdleTimeout(sn stealer.Snapshot) (time.Duration, int) {
	return s.p.(IdleTimer).IdleTimeout(sn)
}

// The baselines read no lookahead: spared its cost, each runs as it
// would with it, on a workload of stages and gathers that the lookahead
// sees through. The default policy reads it.
func TestBaselinesReadNoLookahead(t *testing.T) {
	w, err := Standard("mixed", StdConfig{Tasks: 200, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	c, err := DefaultCluster().WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range PolicyNames() {
		spec, err := ParsePolicy(name)
		if err != nil {
			t.Fatal(err)
		}
		p, err := spec.New(c)
		if err != nil {
			t.Fatal(err)
		}
		_, blind := p.(lookaheadFree)
		if name == "default" {
			if blind {
				t.Errorf("default: reads no lookahead, it says")
			}
			continue
		}
		if !blind {
			t.Errorf("%s: not spared the lookahead", name)
			continue
		}
		if _, ok := p.(IdleTimer); !ok {
			t.Fatalf("%s: no idle timeout to forward", name)
		}
		run := func(p stealer.Policy) Metrics {
			r, err := Run(context.Background(), Config{Workload: w, Policy: p, Cluster: c, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			return r.Metrics
		}
		again, err := spec.New(c)
		if err != nil {
			t.Fatal(err)
		}
		if spared, seen := run(p), run(sighted{again}); !reflect.DeepEqual(spared, seen) {
			t.Errorf("%s: spared the lookahead %+v, given it %+v", name, spared, seen)
		}
	}
}
