package tracing_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/tracing"
	"github.com/opencontainers/go-digest"
	"go.opentelemetry.io/otel/codes"
)

var taskDigest = digest.FromString("task")

func TestRunAndTaskSpans(t *testing.T) {
	tel := newTelemetry(t)
	runs := tracing.NewRuns(tel.config())
	ctx, run := runs.StartRun(t.Context(), "sha256:run", "align")
	run.Phase("init")
	run.Phase("eval")

	_, ok := runs.StartTask(ctx, "sort", taskDigest, ebb.Resources{ebb.CPU: 2, ebb.Mem: 1 << 30}, "alloc-1")
	ok.End(pool.Result{ExitCode: 0}, nil)
	_, failed := runs.StartTask(ctx, "count", taskDigest, cpus(1), "alloc-1")
	failed.End(pool.Result{ExitCode: 3, Transient: true}, nil)
	_, lost := runs.StartTask(ctx, "merge", taskDigest, cpus(1), "alloc-2")
	lost.End(pool.Result{}, fmt.Errorf("alloc alloc-2 lost: %w", ebb.ErrExpired))
	runs.Cached(ctx, "index", taskDigest)
	run.End(errors.New("task count failed"))

	r := tel.span(t, "ebb.Run")
	wantAttr(t, r, "ebb.run.id", "sha256:run")
	wantAttr(t, r, "ebb.run.program", "align")
	wantError(t, r)
	var phases []string
	for _, e := range r.Events() {
		if e.Name == "ebb.phase" {
			phases = append(phases, e.Attributes[0].Value.AsString())
		}
	}
	if fmt.Sprint(phases) != "[init eval]" {
		t.Errorf("run phases %v, want [init eval]", phases)
	}
	if !hasEvent(r, "ebb.task.cached") {
		t.Errorf("run span has no ebb.task.cached event: %v", r.Events())
	}

	tasks := tel.spans("ebb.Task")
	if len(tasks) != 3 {
		t.Fatalf("%d task spans, want 3", len(tasks))
	}
	for _, s := range tasks {
		if s.Parent().SpanID() != r.SpanContext().SpanID() {
			t.Errorf("task span's parent is not the run span")
		}
		wantAttr(t, s, "ebb.task.digest", string(taskDigest))
	}
	wantAttr(t, tasks[0], "ebb.task.name", "sort")
	wantAttr(t, tasks[0], "ebb.alloc.id", "alloc-1")
	wantAttr(t, tasks[0], "ebb.resources.cpu", 2.0)
	wantAttr(t, tasks[0], "ebb.resources.mem", float64(1<<30))
	wantAttr(t, tasks[0], "ebb.exec.exit_code", int64(0))
	wantOK(t, tasks[0])

	wantAttr(t, tasks[1], "ebb.exec.exit_code", int64(3))
	wantAttr(t, tasks[1], "ebb.exec.transient", true)
	if st := tasks[1].Status(); st.Code != codes.Error || st.Description != "exit code 3" {
		t.Errorf("failed task's status = %+v, want Error \"exit code 3\"", st)
	}
	wantError(t, tasks[2])

	rm := tel.collect(t)
	for _, o := range []string{"ok", "failed", "interrupted", "cached"} {
		if got := sum(t, rm, "ebb.tasks", outcome(o)); got != 1 {
			t.Errorf("ebb.tasks{outcome=%s} = %v, want 1", o, got)
		}
	}
	if n := histCount(t, rm, "ebb.task.duration"); n != 3 {
		t.Errorf("%d task durations, want 3 (cached tasks take none)", n)
	}
}

// A task's duration is from StartTask to End.
func TestTaskDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tel := newTelemetry(t)
		runs := tracing.NewRuns(tracing.Config{MeterProvider: tel.mp}) // metrics only
		_, task := runs.StartTask(t.Context(), "sort", taskDigest, nil, "a")
		time.Sleep(90 * time.Second)
		task.End(pool.Result{}, nil)
		m, ok := findMetric(tel.collect(t), "ebb.task.duration")
		if !ok {
			t.Fatal("no ebb.task.duration")
		}
		if got := histSum(m); got != 90 {
			t.Errorf("task duration %v s, want 90", got)
		}
		if len(tel.rec.Ended()) != 0 {
			t.Errorf("metrics-only Runs made spans")
		}
	})
}

// Off, the hooks do nothing and allocate nothing.
func TestRunsOff(t *testing.T) {
	for name, runs := range map[string]*tracing.Runs{
		"nil":         nil,
		"zero Config": tracing.NewRuns(tracing.Config{}),
	} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			res := cpus(1)
			allocs := testing.AllocsPerRun(100, func() {
				rctx, run := runs.StartRun(ctx, "run", "prog")
				run.Phase("eval")
				tctx, task := runs.StartTask(rctx, "t", taskDigest, res, "a")
				runs.Cached(tctx, "c", taskDigest)
				task.End(pool.Result{ExitCode: 1}, nil)
				run.End(nil)
				if tctx != ctx {
					t.Fatal("context changed")
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per run and task, want 0", allocs)
			}
		})
	}
	// The zero spans are usable too.
	var run tracing.RunSpan
	run.Phase("x")
	run.End(context.Canceled)
	var task tracing.TaskSpan
	task.End(pool.Result{}, nil)
}
