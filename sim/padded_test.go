package sim

import (
	"context"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

// Once the ranks are times, the default policy buys units that hold any
// task of their cpus waiting, so an alloc takes as many tasks as it has
// cpus whatever their inputs. Sixteen tasks of one kind (a minute each,
// 1 cpu; eight need 1 GiB, eight 768 MiB) on a primary that holds one:
// the policy asks for 15 cpus in two requests, and both allocs come at
// 10 s. Were the second's units sized to the smaller tasks (7 cpu,
// 5.25 GiB), best fit would send it five of the larger ones: two cpus
// would idle, and two tasks wait for a third alloc, bought at 10 s, to
// end at 80 s.
func TestKnownKindFillsItsAllocs(t *testing.T) {
	var ts []Task
	for i := range 16 {
		mem := 1.0
		if i >= 8 {
			mem = 0.75
		}
		ts = append(ts, Task{ID: string(rune('a' + i)), Kind: "b", Duration: time.Minute,
			Resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: mem * (1 << 30)}})
	}
	w := &Workload{Name: "padded", Tasks: ts}
	c := Cluster{
		Primary: ebb.Resources{ebb.CPU: 1, ebb.Mem: 1 << 30},
		Shapes:  []ebb.Resources{{ebb.CPU: 8, ebb.Mem: 32 << 30}},
		Boot:    Dist{Kind: Fixed, A: 10 * time.Second}, MaxWorkers: 4, Price: 1,
	}
	p, err := stealer.NewDefault(stealer.DefaultConfig{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(context.Background(), Config{Workload: w, Policy: p, Cluster: c, Seed: 1,
		Memory: &Memory{Durations: stealer.Profile{"b": {time.Minute}}}})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "makespan", r.Metrics.Makespan, 70)
}
