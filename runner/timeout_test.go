package runner

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
)

// A task past its Timeout is killed and tried again while attempts
// remain; the run then fails naming the task and the timeout, by
// ErrTimeout, even once resumed from its State.
func TestTaskTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := memPool(t)
		stuck := c.task("stuck", oneCPU, func(ctx context.Context) error {
			<-ctx.Done() // until killed
			return ctx.Err()
		})
		stuck.Timeout = time.Minute
		stuck.Attempts = 2
		flow := &ebb.Flow{Tasks: []ebb.Task{stuck}}
		bus := NewEventBus()
		sub := bus.Subscribe(64)
		r, err := New(Config{Flow: flow, Cluster: static(p), Events: bus}, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Bounded, so that a timeout not enforced fails the test rather
		// than hang it.
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
		defer cancel()
		start := time.Now()
		err = r.Run(ctx)
		if got := c.get("stuck"); got != 2 {
			t.Errorf("stuck ran %d times, want 2 (its attempts)", got)
		}
		if !errors.Is(err, ebb.ErrTimeout) || !strings.Contains(err.Error(), `task "stuck"`) || !strings.Contains(err.Error(), "1m0s") {
			t.Errorf("Run = %v, want ErrTimeout naming the task and its timeout", err)
		}
		var terr *TaskError
		if !errors.As(err, &terr) || terr.Timeout != time.Minute {
			t.Errorf("Run = %v, want a *TaskError with Timeout 1m", err)
		}
		if got := time.Since(start); got < 2*time.Minute || got > 2*time.Minute+10*time.Second {
			t.Errorf("the run took %v, want two tries of 1m", got)
		}
		if got := r.Progress().Retried; got != 1 {
			t.Errorf("Retried = %d, want 1", got)
		}
		var kinds []string
		for sub.Pending() > 0 {
			ev, err := sub.Next(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			kinds = append(kinds, ev.Kind.String())
		}
		if got, want := strings.Join(kinds, " "), "queued started timed_out retried started timed_out finished"; got != want {
			t.Errorf("events %q, want %q", got, want)
		}

		s := r.State()
		if !slices.Contains(s.ErrKinds, "timeout") {
			t.Errorf("State.ErrKinds = %q, want timeout", s.ErrKinds)
		}
		resumed, err := New(Config{Flow: flow, Cluster: static(p)}, &s)
		if err != nil {
			t.Fatal(err)
		}
		if err := resumed.Err(); !errors.Is(err, ebb.ErrTimeout) {
			t.Errorf("resumed Err = %v, want ErrTimeout", err)
		}
	})
}

// A task that finishes within its Timeout succeeds, tried once.
func TestTaskWithinTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := memPool(t)
		quick := c.task("quick", oneCPU, func(ctx context.Context) error {
			select {
			case <-time.After(59 * time.Second):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		quick.Timeout = time.Minute
		quick.Attempts = 3
		r, err := New(Config{Flow: &ebb.Flow{Tasks: []ebb.Task{quick}}, Cluster: static(p)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
		defer cancel()
		if err := r.Run(ctx); err != nil {
			t.Errorf("Run = %v, want success within the timeout", err)
		}
		if got := c.get("quick"); got != 1 {
			t.Errorf("quick ran %d times, want 1", got)
		}
	})
}
