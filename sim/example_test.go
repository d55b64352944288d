package sim_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/sim"
	"github.com/ebbflow/ebb/stealer"
)

// Four tasks of 10 s on a primary of 2 cpu, with the default policy and a
// cluster whose workers take 5 minutes to boot: the policy sees that the
// backlog starts on the primary before any worker could arrive, and buys
// nothing.
func ExampleRun() {
	w := &sim.Workload{Name: "four"}
	for i := range 4 {
		w.Tasks = append(w.Tasks, sim.Task{
			ID: fmt.Sprint("t", i), Duration: 10 * time.Second, Resources: ebb.Resources{ebb.CPU: 1},
		})
	}
	policy, _ := stealer.NewDefault(stealer.DefaultConfig{LatencyPrior: 5 * time.Minute})
	res, err := sim.Run(context.Background(), sim.Config{
		Workload: w,
		Policy:   policy,
		Cluster: sim.Cluster{
			Primary: ebb.Resources{ebb.CPU: 2},
			Shapes:  []ebb.Resources{{ebb.CPU: 8}},
			Boot:    sim.Dist{Kind: sim.Fixed, A: 5 * time.Minute},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	m := res.Metrics
	fmt.Printf("makespan %.0fs (lower bound %.0fs), %d workers bought, waits p50 %.0fs p99 %.0fs\n",
		m.Makespan, m.LowerBound, m.Acquisitions, m.WaitP50, m.WaitP99)
	// Output: makespan 20s (lower bound 20s), 0 workers bought, waits p50 0s p99 10s
}

func ExampleParseDist() {
	d, _ := sim.ParseDist("lognormal:30s,0.3")
	fmt.Println(d, "least", d.Min().Round(time.Second))
	// Output: lognormal:30s,0.3 least 12s
}

func ExampleReadTrace() {
	w, err := sim.ReadTrace(strings.NewReader(`id,arrival,duration,resources,deps
prep,0s,30s,"cpu=1,mem=2GiB",
align,5s,2m,"cpu=4,mem=8GiB",prep
`), "mine")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range w.Tasks {
		fmt.Println(t.ID, t.Arrival, t.Duration, t.Resources, t.Deps)
	}
	// Output:
	// prep 0s 30s 1 cpu, 2.0 GiB mem []
	// align 5s 2m0s 4 cpu, 8.0 GiB mem [0]
}

// A suite of two standard workloads under three policies; the default
// policy set against the others on the (makespan, waste) plane.
func ExampleSuite() {
	var ws []*sim.Workload
	for _, n := range []string{"burst", "trickle"} {
		w, _ := sim.Standard(n, sim.StdConfig{Tasks: 100, Seed: 1})
		ws = append(ws, w)
	}
	var ps []sim.PolicySpec
	for _, n := range []string{"default", "static", "reflow"} {
		p, _ := sim.ParsePolicy(n)
		ps = append(ps, p)
	}
	rep, err := sim.Suite{Workloads: ws, Policies: ps, Seed: 1}.Run(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range rep.Compare("default") {
		fmt.Println(c.Workload, "default dominates", c.Dominates, "dominated by", c.DominatedBy)
	}
	// rep.WriteTable(os.Stdout) would print every metric.
	for _, x := range rep.Results {
		fmt.Printf("%s × %s: ratio %.2f, busy kills %d\n", x.Workload, x.Policy, x.Metrics.MakespanRatio, x.Metrics.BusyKills)
	}
	// Output:
	// burst default dominates [] dominated by []
	// trickle default dominates [] dominated by []
	// burst × default: ratio 1.13, busy kills 0
	// burst × static: ratio 5.57, busy kills 0
	// burst × reflow: ratio 1.77, busy kills 0
	// trickle × default: ratio 1.04, busy kills 0
	// trickle × static: ratio 1.07, busy kills 0
	// trickle × reflow: ratio 1.00, busy kills 0
}
