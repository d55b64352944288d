package runner_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
	"github.com/ebbflow/ebb/runner"
	"github.com/opencontainers/go-digest"
)

// attachFixture is a one-task flow whose exec an earlier driver started
// in alloc a, and a second alloc b with room for it.
type attachFixture struct {
	g       *ebb.Graph
	digests []digest.Digest
	a, b    pool.Alloc
	runs    *atomic.Int32
	release chan struct{}
}

func newAttachFixture(t *testing.T) *attachFixture {
	t.Helper()
	p := pooltest.NewPool(pooltest.PoolConfig{Nodes: []ebb.Resources{{ebb.CPU: 1}, {ebb.CPU: 1}}})
	t.Cleanup(func() { p.Close() })
	f := &attachFixture{runs: new(atomic.Int32), release: make(chan struct{})}
	task := ebb.Task{Name: "x", FuncKey: "x", Resources: ebb.Resources{ebb.CPU: 1},
		Func: func(ctx context.Context, _ ebb.FuncEnv) error {
			f.runs.Add(1)
			select {
			case <-f.release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}}
	var err error
	if f.g, err = (&ebb.Flow{Tasks: []ebb.Task{task}}).Graph(); err != nil {
		t.Fatal(err)
	}
	if f.digests, err = f.g.Digests(nil); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*pool.Alloc{&f.a, &f.b} {
		if *a, err = pool.Allocate(t.Context(), p, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// The earlier driver's exec, still running in a.
	if _, err := f.a.Put(t.Context(), f.digests[0], pool.ExecConfig{Func: task.Func, Resources: task.Resources}); err != nil {
		t.Fatal(err)
	}
	return f
}

// A task whose exec was found in a re-attached alloc (EvalConfig.Attached)
// runs there and nowhere else: an alloc with room that works first does
// not start it again, and the alloc it is attached to re-attaches to the
// exec, which finishes once.
func TestAttachedTaskWaitsForItsAlloc(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newAttachFixture(t)
		e, err := runner.NewEval(t.Context(), f.g, f.digests, runner.EvalConfig{
			Attached: map[digest.Digest]string{f.digests[0]: f.a.ID()},
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		doneB := make(chan error, 1)
		go func() { doneB <- e.Work(ctx, f.b) }()
		synctest.Wait()
		if xs, _ := f.b.Execs(ctx); len(xs) != 0 || f.runs.Load() != 1 {
			t.Fatalf("alloc b runs %d execs, and the task ran %d times, before its own alloc worked: want 0 and 1", len(xs), f.runs.Load())
		}
		if got := e.Progress(); got.Ready != 0 || got.Running != 0 {
			t.Errorf("progress %+v: the attached task is neither ready nor running before its alloc works", got)
		}
		doneA := make(chan error, 1)
		go func() { doneA <- e.Work(ctx, f.a) }()
		synctest.Wait()
		if got := e.Progress(); got.Running != 1 {
			t.Errorf("progress %+v once its alloc works: want the task running there", got)
		}
		close(f.release)
		for _, c := range []chan error{doneA, doneB} {
			if err := <-c; err != nil {
				t.Errorf("Work: %v", err)
			}
		}
		if err := e.Err(); err != nil || f.runs.Load() != 1 {
			t.Errorf("eval ended with %v after %d runs of the task, want success after 1", err, f.runs.Load())
		}
	})
}

// Detach lets a task attached to an alloc that will not work run
// elsewhere.
func TestDetachedTaskRunsElsewhere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newAttachFixture(t)
		close(f.release)
		e, err := runner.NewEval(t.Context(), f.g, f.digests, runner.EvalConfig{
			Attached: map[digest.Digest]string{f.digests[0]: "gone"},
		})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- e.Work(t.Context(), f.b) }()
		synctest.Wait()
		if got := e.Progress(); got.Done != 0 {
			t.Fatalf("progress %+v before Detach: want the task waiting", got)
		}
		e.Detach("gone")
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Work: %v", err)
			}
		case <-time.After(time.Hour): // fake time: the bubble's clock
			t.Fatal("the task did not run within an hour of Detach")
		}
		if xs, _ := f.b.Execs(t.Context()); len(xs) != 0 {
			t.Errorf("alloc b keeps %d execs", len(xs))
		}
		if got := e.Progress(); got.Done != 1 {
			t.Errorf("progress %+v after Detach: want the task done on b", got)
		}
	})
}
