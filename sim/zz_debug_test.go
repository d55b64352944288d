package sim

import (
	"context"
	"fmt"
	"testing"

	"github.com/ebbflow/ebb/stealer"
)

func TestZZDebug(t *testing.T) {
	w, _ := Standard("staged", StdConfig{Seed: 1})
	d, _ := stealer.NewDefault(stealer.DefaultConfig{})
	last := ""
	p := stealer.PolicyFunc(func(s stealer.Snapshot) stealer.Plan {
		pl := d.Plan(s)
		line := pl.Hold
		for _, a := range pl.Acquire {
			line += " | " + a.Reason
		}
		if line != last && line != "" {
			fmt.Printf("t=%v rem=%v td=%v demand=%v held=%d pend=%d: %s\n", s.Now.Sub(epoch), s.Remaining, s.TaskDuration, s.Demand, len(s.Held), len(s.Pending), line[:min(len(line), 250)])
			last = line
		}
		return pl
	})
	boot, _ := ParseDist("lognormal:240s,0.3")
	r, err := Run(context.Background(), Config{Workload: w, Policy: p, Seed: 1, Cluster: Cluster{Boot: boot}})
	fmt.Println(r.Metrics.Makespan, r.Metrics.LowerBound, err)
}
