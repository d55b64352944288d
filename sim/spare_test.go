package sim

import (
	"testing"
	"time"

	"github.com/ebbflow/ebb/stealer"
)

// An alloc that nothing left of the flow can use is drained the moment
// the policy sees it idle, not after its idle timeout. Eight tasks of
// one cpu (seven of a minute, one of two) and a join behind them, on a
// primary of one cpu: the policy buys two allocs of four cpus, which
// come at 10 s. The one without the long task runs out at 70 s, when the
// only task left to start, the join, fits on the primary: drained then,
// it idles for nothing. Kept to its 2 s timeout it would idle 8 cpu-s.
func TestSpareAllocDrainedAtOnce(t *testing.T) {
	durs := []time.Duration{time.Minute, time.Minute, time.Minute, time.Minute, time.Minute, time.Minute, time.Minute, 2 * time.Minute}
	ts := tasks(cpu(1), durs...)
	join := Task{ID: "join", Duration: 10 * time.Second, Resources: cpu(1)}
	for i := range ts {
		join.Deps = append(join.Deps, i)
	}
	w := &Workload{Name: "tail", Tasks: append(ts, join)}
	c := handCluster(1, 4, 10*time.Second)
	p, err := stealer.NewDefault(stealer.DefaultConfig{})
	if err != nil {
		t.Fatal(err)
	}
	m := run(t, w, p, c)
	check(t, "makespan", m.Makespan, 140)
	check(t, "idle tail", m.WasteIdleTail, 0)
}
