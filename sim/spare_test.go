package sim

import (
	"testing"
	"time"

	"github.com/ebbflow/ebb/stealer"
)

// An alloc that nothing left of the flow can use is drained the moment
// the policy sees it idle, not after its idle timeout. Eight tasks of
// one cpu (seven of a minute, one of two) and a join behind them, on a
// primary of one cpu: the policy buys two allocs, of 4 and 3 cpus, which
// come at 10 s. The one without the long task runs out at 70 s, when the
// only task left to start, the join, fits on the primary: drained then,
// it idles for nothing, and so does the other when the long task ends
// at 130 s and the join starts on the primary. Kept to their 2 s
// timeout, the two would idle 14 cpu-s.
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

// Tasks still to arrive are left too: an idle alloc is not drained at
// once while they may come. The same eight tasks (on the primary and
// two allocs of 4 and 3 cpus), and seven more of a minute arriving at
// 71 s: the alloc idle since 70 s is still held, under its 2 s timeout,
// and the seven start at once on it, the primary and the busy alloc, to
// end at 131 s. Drained at 70 s, three of them would wait, for a new
// alloc or for the others to end.
func TestSpareAllocKeptForArrivals(t *testing.T) {
	durs := []time.Duration{time.Minute, time.Minute, time.Minute, time.Minute, time.Minute, time.Minute, time.Minute, 2 * time.Minute}
	ts := tasks(cpu(1), durs...)
	for i := range 7 {
		ts = append(ts, Task{ID: "late" + string(rune('a'+i)), Arrival: 71 * time.Second, Duration: time.Minute, Resources: cpu(1)})
	}
	w := &Workload{Name: "arrivals", Tasks: ts}
	c := handCluster(1, 4, 10*time.Second)
	p, err := stealer.NewDefault(stealer.DefaultConfig{})
	if err != nil {
		t.Fatal(err)
	}
	m := run(t, w, p, c)
	check(t, "makespan", m.Makespan, 131)
}
