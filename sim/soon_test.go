package sim

import (
	"context"
	"testing"
	"time"

	"github.com/ebbflow/ebb/stealer"
)

// An idle alloc is kept for work that may come within the horizon,
// though its mean puts it later. Of the splits seen, one ended at 31 s
// and three ran past 100 s: when the alloc has idled its 2 s timeout,
// the split has run 22 s, and the four maps behind it are due in over a
// minute by the mean, within 9 s one time in four (allocations take
// 10 s, so the horizon is 20 s). Five tasks of 10 s and the split start
// on a primary of 2 cpus and an alloc of 4 bought for them, which comes
// at 10 s and is idle from 20 s. The split ends at 30 s: two maps start
// on the primary and two on the alloc, kept, and the run ends at 50 s
// with one alloc bought. Drained at its timeout, the alloc is bought
// back for two of the maps, and the run ends at 60 s.
func TestIdleAllocKeptForWorkThatMayComeSoon(t *testing.T) {
	sec := func(n int) time.Duration { return time.Duration(n) * time.Second }
	w := &Workload{Name: "split", Tasks: []Task{{ID: "split", Kind: "split", Duration: sec(30), Resources: cpu(1)}}}
	for i := range 5 {
		w.Tasks = append(w.Tasks, Task{ID: "warm" + string(rune('a'+i)), Kind: "warm", Duration: sec(10), Resources: cpu(1)})
	}
	for i := range 4 {
		w.Tasks = append(w.Tasks, Task{ID: "map" + string(rune('a'+i)), Kind: "map", Duration: sec(20), Resources: cpu(1), Deps: []int{0}})
	}
	c := handCluster(2, 4, 10*time.Second)
	p, err := stealer.NewDefault(stealer.DefaultConfig{})
	if err != nil {
		t.Fatal(err)
	}
	mem := &Memory{
		Learned:      stealer.Learned{Latency: []time.Duration{10 * time.Second}},
		TaskDuration: sec(10),
		// Oldest first: the 31 s split is the newest seen.
		Durations: stealer.Profile{"split": {sec(120), sec(110), sec(100), sec(31)}, "warm": {sec(10)}, "map": {sec(20)}},
	}
	r, err := Run(context.Background(), Config{Workload: w, Policy: p, Cluster: c, Seed: 1, Memory: mem})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "makespan", r.Metrics.Makespan, 50)
	check(t, "acquisitions", float64(r.Metrics.Acquisitions), 1)
}
