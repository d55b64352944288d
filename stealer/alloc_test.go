package stealer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool"
)

// An OnAcquire that fails frees the alloc unused, and counts as a failed
// allocation.
func TestOnAcquireFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := memPool(t, cpus(4))
		ev := newFakeEval()
		ev.Ready(dem(cpus(1), 1))
		var rec recorder
		cfg := rec.config(cluster.NewStatic(p))
		cfg.Policy = mustPolicy(t, DefaultConfig{IdleTimeout: time.Hour})
		var calls atomic.Int32
		cfg.OnAcquire = func(ctx context.Context, a pool.Alloc) error {
			if calls.Add(1) <= 2 {
				return errors.New("state store down")
			}
			return rec.onAcquire(ctx, a)
		}
		s, _ := New(cfg)
		ctx, cancel := context.WithCancel(t.Context())
		errc := start(ctx, s, ev)
		advance(time.Minute)
		failed := rec.of(EventFailed)
		if len(failed) != 2 || !strings.Contains(failed[0].Reason, "OnAcquire failed") {
			t.Errorf("failures %v, want two failed OnAcquires\n%s", failed, &rec)
		}
		worked := ev.worked()
		acquired, released := rec.calls()
		if len(worked) != 1 || len(acquired) != 1 || worked[0] != acquired[0] {
			t.Errorf("worked %v, recorded %v: want the one recorded alloc worked", worked, acquired)
		}
		if len(released) != 2 {
			t.Errorf("OnRelease %v, want the two unrecorded allocs", released)
		}
		if st := p.Stats(); st.Allocs != 3 || st.Frees != 2 {
			t.Errorf("pool stats %+v, want 3 allocs, 2 freed", st)
		}
		cancel()
		<-errc
	})
}

// stubborn is a cluster whose Allocate ignores its context: it waits for
// release and then grants, as a cluster that raced with the cancel would.
type stubborn struct {
	cluster.Static
	release chan struct{}
}

func (c stubborn) Allocate(ctx context.Context, req ebb.Requirements, labels ebb.Labels) (pool.Alloc, error) {
	<-c.release
	return c.Static.Allocate(context.Background(), req, labels)
}

// An alloc granted after its request was cancelled is freed unused.
func TestGrantAfterCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := memPool(t, cpus(4))
		c := stubborn{Static: cluster.NewStatic(p), release: make(chan struct{})}
		ev := newFakeEval()
		ev.Ready(dem(cpus(1), 1))
		var rec recorder
		s, _ := New(rec.config(c))
		ctx, cancel := context.WithCancel(t.Context())
		errc := start(ctx, s, ev)
		synctest.Wait()
		ev.Ready()
		advance(time.Second)
		if got := rec.of(EventCancelled); len(got) != 1 {
			t.Fatalf("cancelled %v, want 1\n%s", got, &rec)
		}
		close(c.release)
		synctest.Wait()
		got := rec.of(EventReleased)
		if len(got) != 1 || !strings.Contains(got[0].Reason, "granted after request r1 was cancelled") {
			t.Errorf("released %v, want the late grant freed\n%s", got, &rec)
		}
		acquired, _ := rec.calls()
		if live := liveAllocs(t, p); len(live) != 0 || len(acquired) != 0 || len(ev.worked()) != 0 {
			t.Errorf("late grant: live %v, recorded %v, worked %v; want none", live, acquired, ev.worked())
		}
		cancel()
		<-errc
	})
}

// A lost alloc is reported, freed (nothing to free) and forgotten.
func TestLostAlloc(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := memPool(t, cpus(4))
		ev := newFakeEval()
		ev.Ready(dem(cpus(4), 1))
		var rec recorder
		s, _ := New(rec.config(cluster.NewStatic(p)))
		ctx, cancel := context.WithCancel(t.Context())
		errc := start(ctx, s, ev)
		synctest.Wait()
		ids := liveAllocs(t, p)
		if len(ids) != 1 {
			t.Fatalf("allocs %v, want 1", ids)
		}
		ev.Ready()
		ev.SetBusy(ids[0], 1, cpus(4))
		if err := p.Kill(ids[0]); err != nil {
			t.Fatal(err)
		}
		advance(time.Minute) // the next renewal finds it gone
		lost := rec.of(EventLost)
		if len(lost) != 1 || lost[0].AllocID != ids[0] || !errors.Is(lost[0].Err, ebb.ErrExpired) {
			t.Errorf("lost %v, want %s lost with ErrExpired\n%s", lost, ids[0], &rec)
		}
		if _, released := rec.calls(); !slices.Equal(released, ids) {
			t.Errorf("OnRelease %v, want %s", released, ids[0])
		}
		if got := rec.of(EventReleased); len(got) != 1 || got[0].Err != nil {
			t.Errorf("released %v, want one release without error", got)
		}
		cancel()
		<-errc
	})
}

// Allocs handed over in Config.Allocs are worked and freed like the
// stealer's own; OnAcquire is not called for them.
func TestTakeOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := memPool(t, cpus(4))
		a, err := pool.Allocate(t.Context(), p, req(cpus(4), 1), nil)
		if err != nil {
			t.Fatal(err)
		}
		ev := newFakeEval()
		var rec recorder
		cfg := rec.config(cluster.NewStatic(p))
		cfg.Allocs = []pool.Alloc{a}
		cfg.Policy = mustPolicy(t, DefaultConfig{IdleTimeout: time.Minute})
		s, _ := New(cfg)
		ctx, cancel := context.WithCancel(t.Context())
		errc := start(ctx, s, ev)
		synctest.Wait()
		if got := ev.worked(); !slices.Equal(got, []string{a.ID()}) {
			t.Errorf("worked %v, want %s", got, a.ID())
		}
		advance(time.Minute + time.Second)
		if got := liveAllocs(t, p); len(got) != 0 {
			t.Errorf("idle taken-over alloc still live after the idle timeout: %v\n%s", got, &rec)
		}
		if acquired, released := rec.calls(); len(acquired) != 0 || !slices.Equal(released, []string{a.ID()}) {
			t.Errorf("OnAcquire %v, OnRelease %v; want none and %s", acquired, released, a.ID())
		}
		cancel()
		<-errc
	})
}

// A busy alloc that a policy drains is freed only once its work has
// returned: the two-phase release holds whatever the policy does.
func TestDrainedBusyAllocFreedAfterWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := memPool(t, cpus(4))
		ev := newFakeEval()
		ev.Ready(dem(cpus(4), 1))
		var rec recorder
		cfg := rec.config(cluster.NewStatic(p))
		def := mustPolicy(t, DefaultConfig{IdleTimeout: time.Hour})
		cfg.Policy = PolicyFunc(func(s Snapshot) Plan {
			plan := def.Plan(s)
			for _, h := range s.Held {
				if h.Working && !h.Draining && h.Running > 0 {
					plan.Drain = append(plan.Drain, Drain{AllocID: h.ID, Reason: "drain while busy"})
				}
			}
			return plan
		})
		s, _ := New(cfg)
		ctx, cancel := context.WithCancel(t.Context())
		errc := start(ctx, s, ev)
		synctest.Wait()
		ids := liveAllocs(t, p)
		if len(ids) != 1 {
			t.Fatalf("allocs %v, want 1", ids)
		}
		ev.Ready()
		ev.SetBusy(ids[0], 1, cpus(4))
		advance(10 * time.Minute)
		if got := ev.drained(); !slices.Equal(got, ids) {
			t.Fatalf("drained %v, want %v", got, ids)
		}
		if got := liveAllocs(t, p); !slices.Equal(got, ids) {
			t.Errorf("a drained alloc still running a task was freed: live %v\n%s", got, &rec)
		}
		ev.SetBusy(ids[0], 0, nil)
		synctest.Wait()
		if got := liveAllocs(t, p); len(got) != 0 {
			t.Errorf("drained alloc still live once its work returned: %v\n%s", got, &rec)
		}
		cancel()
		<-errc
	})
}

// failingWork is a fakeEval whose Work fails after 10 ms.
type failingWork struct {
	*fakeEval
	err error
}

func (f failingWork) Work(ctx context.Context, _ pool.Alloc) error {
	select {
	case <-time.After(10 * time.Millisecond): // on the bubble's clock
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// An alloc whose Work failed is released with that error, at warning
// level, and the next request waits as after a failed one.
func TestReleasedAfterWorkFailed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := memPool(t, cpus(4))
		ev := failingWork{newFakeEval(), fmt.Errorf("worker refused: %w", ebb.ErrUnavailable)}
		ev.Ready(dem(cpus(4), 1))
		var rec recorder
		s, _ := New(rec.config(cluster.NewStatic(p)))
		ctx, cancel := context.WithCancel(t.Context())
		errc := start(ctx, s, ev)
		advance(10 * time.Millisecond) // Work fails
		got := rec.of(EventReleased)
		if len(got) == 0 {
			cancel()
			<-errc
			t.Fatalf("no release after Work failed\n%s", &rec)
		}
		r := got[0]
		if !errors.Is(r.Err, ebb.ErrUnavailable) || !strings.Contains(r.Reason, "work failed") || r.level() != slog.LevelWarn {
			t.Errorf("released %+v (level %v), want Work's error, \"work failed\" and level WARN", r, r.level())
		}
		// The next request waits, as after a failed Allocate: no
		// alloc is bought and released over and over meanwhile.
		if n := len(rec.of(EventGranted)); n != 1 {
			t.Errorf("%d grants before the retry wait has passed, want 1\n%s", n, &rec)
		}
		advance(time.Second) // RetryMinWait, less up to a fifth
		if n := len(rec.of(EventGranted)); n != 2 {
			t.Errorf("%d grants once the retry wait has passed, want 2\n%s", n, &rec)
		}
		cancel()
		<-errc
	})
}
