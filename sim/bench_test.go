package sim

import (
	"context"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

// BenchmarkMillionTasks simulates the burst workload at 1,000,000 tasks on
// up to 10,000 workers of 16 cpu. Under static-max every worker is asked
// for at once, so the figure is the simulator's own cost; under default,
// ebb's default policy (raised to that scale by its knobs: MaxAllocs and
// MaxPending 10,000, requests of one worker's shape) plans at every tick
// and grant, and its Plan, linear in the allocs held and asked for, adds
// its own cost. It reports the simulated makespan, the peak workers and
// the plans asked for.
func BenchmarkMillionTasks(b *testing.B) {
	w, err := Standard("burst", StdConfig{Tasks: 1_000_000, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	node := ebb.Resources{ebb.CPU: 16, ebb.Mem: 64 << 30}
	c := Cluster{Primary: node, Shapes: []ebb.Resources{node}, MaxWorkers: 10_000, MaxPending: 10_000}
	policies := []struct {
		name string
		new  func() stealer.Policy
	}{
		{"static-max", func() stealer.Policy { return NewStatic(StaticConfig{Workers: 10_000}, c) }},
		{"default", func() stealer.Policy {
			p, err := stealer.NewDefault(stealer.DefaultConfig{MaxAllocs: 10_000, MaxPending: 10_000, MaxRequest: node})
			if err != nil {
				b.Fatal(err)
			}
			return p
		}},
	}
	for _, p := range policies {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				r, err := Run(context.Background(), Config{Workload: w, Policy: p.new(), PolicyName: p.name, Cluster: c, Seed: 1})
				if err != nil {
					b.Fatal(err)
				}
				m := r.Metrics
				if m.PeakWorkers < 9_000 || m.BusyKills != 0 || m.Stalled != "" || m.Tasks != 1_000_000 {
					b.Fatalf("peak workers %d, busy kills %d, stalled %q", m.PeakWorkers, m.BusyKills, m.Stalled)
				}
				b.ReportMetric(m.Makespan, "sim-s")
				b.ReportMetric(float64(m.PeakWorkers), "workers")
				b.ReportMetric(float64(m.PolicyCalls), "plans")
			}
		})
	}
}
