package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/proctest"
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

func TestRunWorkersProcsWithinResources(t *testing.T) {
	bin := buildEbb(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// No shapes: they are cut from what -resources leaves beside the
	// primary, 2 of its 3 cpu.
	wf := write("workers.yaml", fmt.Sprintf("provider: procs\nworker: [%s, worker]\nlatency: 100ms\n", bin))
	var tasks strings.Builder
	for i := range 6 {
		fmt.Fprintf(&tasks, "  - {name: t%d, argv: [sh, -c, \"sleep 1; echo %d > out\"], resources: \"cpu=1,mem=64MiB\", outputs: [out]}\n", i, i)
	}
	flow := write("flow.yaml", "tasks:\n"+tasks.String())
	logFile := filepath.Join(dir, "ebb.log")
	code, out, errs := runEbb(t, dir, "run", "-quiet", "-v", "-log-format", "json", "-log", logFile,
		"-workers", wf, "-resources", "cpu=3,mem=2GiB", "-primary", "cpu=1,mem=64MiB", flow)
	if code != 0 {
		t.Fatalf("ebb run exited %d:\n%s%s", code, out, errs)
	}
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cpu := map[string]float64{"quarter": 0.5, "half": 1, "whole": 2}
	launched := 0.0
	var shapes []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rec struct {
			Msg   string `json:"msg"`
			Shape string `json:"shape"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec.Msg == "elastic: launching worker" {
			launched += cpu[rec.Shape]
			shapes = append(shapes, rec.Shape)
		}
	}
	// The workers live a minute idle: none ends during the run, so the
	// launches add up to what the workers held at once.
	if launched == 0 || launched > 2 {
		t.Errorf("launched workers %v, %g cpu in all; want some, within the 2 cpu -resources leaves", shapes, launched)
	}
	left := func() bool { return len(processesWith(bin)) == 0 }
	if !proctest.Eventually(10*time.Second, left) {
		t.Errorf("worker processes left: %v", processesWith(bin))
	}
}
