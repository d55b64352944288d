package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool/pooltest"
	"github.com/ebbflow/ebb/runner"
	"github.com/ebbflow/ebb/stealer"
)

// wideFlow returns n independent tasks of one cpu, of kind "sleep", that
// take d each.
func wideFlow(n int, d time.Duration) *ebb.Flow {
	flow := &ebb.Flow{Name: "wide"}
	for i := range n {
		flow.Tasks = append(flow.Tasks, ebb.Task{
			Name: fmt.Sprintf("t%02d", i), FuncKey: fmt.Sprintf("sleep-%d", i), Kind: "sleep",
			Resources: ebb.Resources{ebb.CPU: 1}, Estimate: d / 2,
			Func: func(ctx context.Context, _ ebb.FuncEnv) error {
				select {
				case <-time.After(d):
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			},
		})
	}
	return flow
}

// current decodes the view d serves now.
func current(t *testing.T, d *Dashboard) view {
	t.Helper()
	var v view
	if err := json.Unmarshal(d.cur.Load().json, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// An elastic run of 12 one-minute tasks on a primary of 2 cpu: the view
// shows the tasks move, auxiliary allocs come and go on the timeline
// beside the primary, the capacity held grow past the primary's, the
// stealer's reasons, and the kind's estimate before and its actual
// durations after.
func TestViewOfElasticRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nodes := []ebb.Resources{{ebb.CPU: 2}}
		for range 5 {
			nodes = append(nodes, ebb.Resources{ebb.CPU: 2})
		}
		p := pooltest.NewPool(pooltest.PoolConfig{Nodes: nodes})
		defer p.Close()
		cfg := runner.Config{
			Flow: wideFlow(12, time.Minute), Cluster: cluster.NewStatic(p), Aux: cluster.NewStatic(p),
			Primary: ebb.Requirements{Min: ebb.Resources{ebb.CPU: 2}},
			Steal:   runner.StealConfig{Policy: mustDefault(t)},
			Events:  runner.NewEventBus(),
		}
		r, err := runner.New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		src, err := NewRunSource(r, cfg)
		if err != nil {
			t.Fatal(err)
		}
		d, err := New(Config{Source: src, Interval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ctx, stop := context.WithCancel(t.Context())
		ran := make(chan error, 1)
		go func() { ran <- d.Run(ctx) }()
		done := make(chan error, 1)
		go func() { done <- r.Run(t.Context()) }()

		// Two thirds through the first wave.
		time.Sleep(40 * time.Second)
		synctest.Wait()
		mid := current(t, d)
		if mid.Run.Phase != "eval" || mid.Progress.Running == 0 || mid.Progress.Done != 0 {
			t.Errorf("mid-run: phase %q, progress %+v; want eval, tasks running, none done", mid.Run.Phase, mid.Progress)
		}
		if got := mid.States["running"]; got != mid.Progress.Running {
			t.Errorf("mid-run: %d tasks running by the events, %d by the runner", got, mid.Progress.Running)
		}
		if k := mid.Kinds[0]; k.Kind != "sleep" || !k.AtLeast || k.Estimate < 40 {
			t.Errorf("mid-run kind %+v: want sleep, estimated at least 40s (its running tasks' age, beyond its 30s estimate)", k)
		}
		aux := 0
		for _, a := range mid.Allocs {
			if a.Role == "auxiliary" && a.End == 0 {
				aux++
			}
		}
		if aux == 0 {
			t.Errorf("mid-run: no auxiliary alloc held: %+v", mid.Allocs)
		}

		if err := <-done; err != nil {
			t.Fatal(err)
		}
		stop()
		<-ran
		v := current(t, d)
		if !v.Final || v.Run.Phase != "done" || v.Progress.Done != 12 || v.States["done"] != 12 {
			t.Errorf("final view: final %v, phase %q, progress %+v, states %v", v.Final, v.Run.Phase, v.Progress, v.States)
		}
		k := v.Kinds[0]
		if k.Finished != 12 || k.Mean != 60 || k.Min != 60 || k.Max != 60 || k.Estimate != 60 || k.AtLeast {
			t.Errorf("final kind %+v: want 12 finished, 60s each, estimated 60s", k)
		}
		var primary, released int
		for _, a := range v.Allocs {
			switch {
			case a.End == 0:
				t.Errorf("alloc %s still held in the final view", a.ID)
			case a.Role == "primary":
				primary++
			case a.Ended == "released":
				released++
			}
			if a.Start == 0 || a.End < a.Start || a.CPU != 2 {
				t.Errorf("alloc %+v: want a life with a start, an end after it, and 2 cpu", a)
			}
		}
		if primary != 1 || released == 0 {
			t.Errorf("allocs %+v: want one primary and auxiliary ones released", v.Allocs)
		}
		maxHeld, maxDemand := 0.0, 0.0
		for _, pt := range v.Capacity.Points {
			maxHeld, maxDemand = max(maxHeld, pt[1]), max(maxDemand, pt[2])
		}
		if len(v.Capacity.Points) < 60 || maxHeld <= 2 || maxDemand != 12 {
			t.Errorf("capacity: %d points, most held %v, most demand %v; want a point a second, more than the primary's 2 cpu held, 12 demanded",
				len(v.Capacity.Points), maxHeld, maxDemand)
		}
		requested := false
		for i, dec := range v.Steals {
			if dec.Kind == "requested" && strings.Contains(dec.Reason, "requested") {
				requested = true
			}
			if i > 0 && dec.Time > v.Steals[i-1].Time {
				t.Errorf("decisions not newest first: %v after %v", dec, v.Steals[i-1])
			}
		}
		if !requested {
			t.Errorf("no request with its reason among the decisions: %+v", v.Steals)
		}
	})
}

func mustDefault(t *testing.T) stealer.Policy {
	t.Helper()
	p, err := stealer.NewDefault(stealer.DefaultConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
