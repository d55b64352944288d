package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

func mustResources(t *testing.T, s string) ebb.Resources {
	t.Helper()
	r, err := ebb.ParseResources(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestProcsShapesWithinResources(t *testing.T) {
	flow, err := readFlow("../../examples/wordcount.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// wordcount's widest need is two tasks of cpu=1,mem=64MiB: on two
	// cores the primary takes both, and nothing is left for workers.
	budget, grant, err := procsBudget(mustResources(t, "cpu=2,mem=4GiB"), nil, flow)
	if err != nil {
		t.Fatal(err)
	}
	if !grant.Equal(mustResources(t, "cpu=2,mem=128MiB")) {
		t.Errorf("primary grant %s, want cpu=2,mem=128MiB", grant)
	}
	if shapes := budgetShapes(budget); len(shapes) != 0 {
		t.Errorf("budget %s: shapes %v, want none", budget, shapes)
	}

	// With -resources cpu=5 and -primary cpu=1, workers share 4 cpu.
	capacity := mustResources(t, "cpu=5,mem=8GiB")
	budget, grant, err = procsBudget(capacity, mustResources(t, "cpu=1,mem=1GiB"), flow)
	if err != nil {
		t.Fatal(err)
	}
	if !budget.Equal(mustResources(t, "cpu=4,mem=7GiB")) {
		t.Errorf("budget %s, want cpu=4,mem=7GiB", budget)
	}
	shapes := budgetShapes(budget)
	if len(shapes) != 3 {
		t.Fatalf("shapes %v, want quarter, half, whole", shapes)
	}
	costCap := budget[ebb.CPU] * 60
	for _, sh := range shapes {
		if !sh.Resources.Fits(budget) {
			t.Errorf("shape %s (%s) does not fit the budget %s", sh.Name, sh.Resources, budget)
		}
		// The Elastic's cost cap bounds the workers' total: as many of a
		// shape as the cap allows hold at most the budget.
		n := int(costCap/(sh.Price*60) + 1e-9)
		if total := sh.Resources.Scale(float64(n)); !total.Fits(budget) {
			t.Errorf("%d workers of %s hold %s, beyond the budget %s", n, sh.Name, total, budget)
		}
	}
	if !largest(shapes).Equal(budget) {
		t.Errorf("largest shape %s, want the budget %s", largest(shapes), budget)
	}
	if names, _ := unheldTasks(flow, shapes); len(names) != 0 {
		t.Errorf("tasks %v held by no shape", names)
	}
	small := budgetShapes(mustResources(t, "cpu=0.5,mem=1GiB"))
	if names, first := unheldTasks(flow, small); len(names) != 4 || !first.Equal(mustResources(t, "cpu=1,mem=64MiB")) {
		t.Errorf("half a core: unheld %v (first %s), want all 4", names, first)
	}
}

func TestRunWorkersProcsSaysWhy(t *testing.T) {
	flow, err := filepath.Abs("../../examples/wordcount.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The README's flow on two cores: the primary takes them both.
	code, out, errs := runEbb(t, dir, "run", "-quiet", "-workers", "procs", "-resources", "cpu=2,mem=2GiB", flow)
	if code != 0 {
		t.Fatalf("ebb run exited %d:\n%s%s", code, out, errs)
	}
	if n := strings.Count(errs, "\n"); n != 1 || !strings.Contains(errs, "no workers: the local pool (-resources: 2 cpu") || !strings.Contains(errs, "beside the primary alloc (2 cpu") {
		t.Errorf("stderr %q: want one line saying -resources leaves nothing beside the primary", errs)
	}

	// A task wider than any shape -resources leaves room for.
	wide := filepath.Join(dir, "wide.yaml")
	if err := os.WriteFile(wide, []byte("tasks:\n  - {name: wide, argv: [sh, -c, \"echo 1 > out\"], resources: \"cpu=2,mem=64MiB\", outputs: [out]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runEbb(t, dir, "run", "-quiet", "-workers", "procs", "-resources", "cpu=3,mem=2GiB", "-primary", "cpu=2,mem=64MiB", wide)
	if code != 0 {
		t.Fatalf("ebb run exited %d:\n%s%s", code, out, errs)
	}
	if !strings.Contains(errs, "no worker shape holds 1 of the flow's tasks (wide needs 2 cpu, 64.0 MiB mem; the largest shape is 1 cpu") {
		t.Errorf("stderr %q: want the line saying no shape holds the task", errs)
	}
}

func TestAuxWatchReport(t *testing.T) {
	grant := mustResources(t, "cpu=2")
	var a auxWatch
	if got := a.report("procs", grant, true); got != "" {
		t.Errorf("quiet, nothing waited: %q", got)
	}
	if got := a.report("procs", grant, false); !strings.Contains(got, "no worker was needed: the primary alloc (2 cpu)") {
		t.Errorf("nothing waited: %q", got)
	}
	a.ready(3)
	a.event(stealer.Event{Kind: stealer.EventHold, Reason: "holding: backlog drains in 2s on held capacity"})
	if got := a.report("procs", grant, true); !strings.Contains(got, "no worker launched although tasks waited: holding: backlog drains") {
		t.Errorf("held: %q", got)
	}
	a.event(stealer.Event{Kind: stealer.EventRequested})
	a.event(stealer.Event{Kind: stealer.EventFailed, Reason: "launch failed", Err: errors.New("boom")})
	if got := a.report("procs", grant, true); !strings.Contains(got, "1 requests for workers, none granted: launch failed") {
		t.Errorf("failed: %q", got)
	}
	a.event(stealer.Event{Kind: stealer.EventGranted})
	if got := a.report("procs", grant, false); got != "" {
		t.Errorf("granted: %q", got)
	}
}
