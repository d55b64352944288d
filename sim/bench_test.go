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
func BenchmarkMillionTasks(b *testing.B) { benchTasks(b, 1_000_000) }

// BenchmarkHundredThousandTasks is BenchmarkMillionTasks at a tenth of
// the size: 100,000 tasks on up to 1,000 workers.
func BenchmarkHundredThousandTasks(b *testing.B) { benchTasks(b, 100_000) }

// benchTasks simulates the burst workload at n tasks on up to n/100
// workers of 16 cpu.
func benchTasks(b *testing.B, n int) {
	w, err := Standard("burst", StdConfig{Tasks: n, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	node := ebb.Resources{ebb.CPU: 16, ebb.Mem: 64 << 30}
	workers := n / 100
	c := Cluster{Primary: node, Shapes: []ebb.Resources{node}, MaxWorkers: workers, MaxPending: workers}
	policies := []struct {
		name string
		new  func() stealer.Policy
	}{
		{"static-max", func() stealer.Policy { return NewStatic(StaticConfig{Workers: workers}, c) }},
		{"default", func() stealer.Policy {
			p, err := stealer.NewDefault(stealer.DefaultConfig{MaxAllocs: workers, MaxPending: workers, MaxRequest: node})
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
				if m.PeakWorkers < workers*9/10 || m.BusyKills != 0 || m.Stalled != "" || m.Tasks != n {
					b.Fatalf("peak workers %d, busy kills %d, stalled %q", m.PeakWorkers, m.BusyKills, m.Stalled)
				}
				b.ReportMetric(m.Makespan, "sim-s")
				b.ReportMetric(float64(m.PeakWorkers), "workers")
				b.ReportMetric(float64(m.PolicyCalls), "plans")
			}
		})
	}
}
