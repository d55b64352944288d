package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository"
	"github.com/ebbflow/ebb/stealer"
)

// primaryGrant returns what the local pool grants the primary alloc of a
// flow that needs want (its largest task and width, or -primary) out of
// capacity (pool.Grant), or want.Min when capacity does not hold it.
func primaryGrant(want ebb.Requirements, capacity ebb.Resources) ebb.Resources {
	if g, ok := pool.Grant(capacity, want); ok {
		return g
	}
	return want.Min.Clone()
}

// procsBudget returns what the workers of "-workers procs" may hold in
// all: the local pool's capacity (-resources, or the machine) less the
// primary alloc's grant; and that grant. Keys left at zero or below are
// dropped.
func procsBudget(capacity ebb.Resources, primary ebb.Resources, flow *ebb.Flow) (budget, grant ebb.Resources, err error) {
	want := ebb.Requirements{Min: primary}
	if primary.IsZero() {
		g, err := flow.Graph()
		if err != nil {
			return nil, nil, err
		}
		want = g.Requirements()
	}
	grant = primaryGrant(want, capacity)
	budget = ebb.Resources{}
	for k, v := range capacity.Sub(grant) {
		if v > 1e-9 {
			budget[k] = v
		}
	}
	return budget, grant, nil
}

// budgetShapes returns the shapes of "-workers procs" within budget: a
// quarter, a half and the whole of it, each priced by its cores (one a
// core-minute), as procs.MachineShapes slices the machine. Pricing by
// cores lets the Elastic's CostCap (budget's cores × 60) keep the
// workers' total within budget. None without cores.
func budgetShapes(budget ebb.Resources) []cluster.Shape {
	if budget[ebb.CPU] <= 0 {
		return nil
	}
	var shapes []cluster.Shape
	for _, s := range []struct {
		name string
		frac float64
	}{{"quarter", 0.25}, {"half", 0.5}, {"whole", 1}} {
		res := budget.Scale(s.frac)
		for _, k := range []string{ebb.Mem, ebb.Disk} {
			if _, ok := res[k]; ok {
				res[k] = math.Floor(res[k])
			}
		}
		sh := cluster.Shape{Name: s.name, Resources: res, Price: res[ebb.CPU]}
		if sh.Validate() == nil {
			shapes = append(shapes, sh)
		}
	}
	return shapes
}

// unheldTasks returns the names of the flow's tasks that no shape holds,
// and the first such task's resources.
func unheldTasks(flow *ebb.Flow, shapes []cluster.Shape) ([]string, ebb.Resources) {
	var names []string
	var first ebb.Resources
	for _, t := range flow.Tasks {
		held := false
		for _, sh := range shapes {
			if t.Resources.Fits(sh.Resources) {
				held = true
				break
			}
		}
		if !held {
			if names == nil {
				first = t.Resources
			}
			names = append(names, t.Name)
		}
	}
	return names, first
}

// largest returns the largest of shapes, by Size.
func largest(shapes []cluster.Shape) ebb.Resources {
	var best ebb.Resources
	for _, sh := range shapes {
		if best == nil || sh.Resources.Size() > best.Size() {
			best = sh.Resources
		}
	}
	return best
}

// auxWatch follows what the stealer did with a run's workers, to say why
// none was launched.
type auxWatch struct {
	mu        sync.Mutex
	waited    bool
	requested int
	granted   int
	why       string
}

// event records ev.
func (a *auxWatch) event(ev stealer.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch ev.Kind {
	case stealer.EventRequested:
		a.requested++
		a.waited = true
	case stealer.EventGranted:
		a.granted++
	case stealer.EventHold, stealer.EventFailed, stealer.EventRejected, stealer.EventCancelled:
		if ev.Reason != "" {
			a.why = ev.Reason
		}
	}
}

// ready records that ready tasks waited for room.
func (a *auxWatch) ready(n int) {
	if n > 0 {
		a.mu.Lock()
		a.waited = true
		a.mu.Unlock()
	}
}

// report returns the line that says why no worker was launched, or ""
// when one was. quiet leaves out the line that says none was needed.
func (a *auxWatch) report(workers string, grant ebb.Resources, quiet bool) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.granted > 0:
		return ""
	case a.waited && a.requested > 0:
		why := a.why
		if why == "" {
			why = "no request was granted"
		}
		return fmt.Sprintf("ebb: -workers %s: %d requests for workers, none granted: %s", workers, a.requested, why)
	case a.waited:
		why := a.why
		if why == "" {
			why = "the stealer asked for none"
		}
		return fmt.Sprintf("ebb: -workers %s: no worker launched although tasks waited: %s", workers, why)
	case !quiet:
		return fmt.Sprintf("ebb: -workers %s: no worker was needed: the primary alloc (%s) ran every ready task at once (a smaller -primary leaves work to workers)", workers, grant)
	}
	return ""
}

// startWorkers starts the workers of -workers beside machine, the local
// pool that holds the primary alloc, and returns them with the primary
// alloc's expected size. "-workers procs" without shapes gets shapes cut
// from what machine's capacity (-resources) leaves beside the primary,
// and a cost cap that keeps the workers' total within it. When no shape
// is left it says why in one line on stderr and returns no pool; when a
// shape is too small for some of the flow's tasks it says so.
func (f *runFlags) startWorkers(ctx context.Context, statePath string, machine pool.Pool, repo *repository.Dir, flow *ebb.Flow, log *slog.Logger, stderr io.Writer, hooks elasticHooks) (*workerPool, ebb.Resources, error) {
	wf, err := readWorkers(f.workers)
	if err != nil {
		return nil, nil, err
	}
	nodes, err := machine.Capacity(ctx)
	if err != nil {
		return nil, nil, err
	}
	capacity := ebb.Resources{}
	for _, n := range nodes {
		capacity = capacity.Add(n)
	}
	budget, grant, err := procsBudget(capacity, f.primary, flow)
	if err != nil {
		return nil, nil, err
	}
	if wf.Provider == "procs" && len(wf.Shapes) == 0 {
		wf.derived = budgetShapes(budget)
		wf.costCap = budget[ebb.CPU]*60 + 1e-6
		if len(wf.derived) == 0 {
			fmt.Fprintf(stderr, "ebb: -workers procs: no workers: the local pool (-resources: %s) has no cpu left beside the primary alloc (%s); give -primary a smaller size or -resources more\n", capacity, grant)
			return nil, grant, nil
		}
	}
	shapes, err := wf.shapes()
	if err != nil {
		return nil, nil, err
	}
	if names, first := unheldTasks(flow, shapes); len(names) > 0 {
		fmt.Fprintf(stderr, "ebb: -workers %s: no worker shape holds %d of the flow's tasks (%s needs %s; the largest shape is %s): they run on the primary alloc only\n", f.workers, len(names), names[0], first, largest(shapes))
	}
	wf.peers = hooks.peers
	wp, err := wf.start(ctx, f.dir, statePath, repo, f.keepWorkers, log, hooks)
	if err != nil {
		return nil, nil, err
	}
	return wp, grant, nil
}
