package stealer

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool/pooltest"
)

// Demand that appears while the stealer runs is bought within one tick,
// all of it at once: no waiting for later ticks to add more.
func TestBurstScalesWithinOneTick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := memPool(t, cpus(4), cpus(4), cpus(4), cpus(4))
		ev := newFakeEval()
		var rec recorder
		s, err := New(rec.config(cluster.NewStatic(p)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		errc := start(ctx, s, ev)
		advance(2500 * time.Millisecond)
		if got := rec.of(EventRequested); len(got) != 0 {
			t.Fatalf("requested with no demand:\n%s", &rec)
		}
		appeared := time.Now()
		ev.Ready(dem(cpus(1), 12))
		advance(time.Second)
		if got := liveAllocs(t, p); len(got) != 3 {
			t.Errorf("one tick after 12 one-cpu tasks appeared: allocs %v, want 3 of 4 cpu\n%s", got, &rec)
		}
		for _, e := range rec.of(EventGranted) {
			if d := e.Time.Sub(appeared); d > time.Second {
				t.Errorf("granted %v after the demand appeared, want within one tick (1s)", d)
			}
		}
		if got := ev.Demand(); len(got) != 0 {
			t.Errorf("demand left after the burst was bought: %v", got)
		}
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	})
}

// Demand present when Run starts is bought at once, not at the first tick.
func TestDemandAtStartBoughtAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := memPool(t, cpus(4))
		ev := newFakeEval()
		ev.Ready(dem(cpus(1), 2))
		var rec recorder
		cfg := rec.config(cluster.NewStatic(p))
		cfg.Tick = time.Hour
		s, _ := New(cfg)
		begin := time.Now()
		ctx, cancel := context.WithCancel(t.Context())
		errc := start(ctx, s, ev)
		synctest.Wait()
		got := rec.of(EventGranted)
		if len(got) != 1 || !got[0].Time.Equal(begin) {
			t.Errorf("granted %v, want one grant at once\n%s", got, &rec)
		}
		cancel()
		<-errc
	})
}

// Wake makes the stealer look before its next tick.
func TestWake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := memPool(t, cpus(4))
		ev := newFakeEval()
		var rec recorder
		cfg := rec.config(cluster.NewStatic(p))
		cfg.Tick = time.Hour
		s, _ := New(cfg)
		ctx, cancel := context.WithCancel(t.Context())
		errc := start(ctx, s, ev)
		advance(5 * time.Second)
		ev.Ready(dem(cpus(1), 1))
		s.Wake()
		s.Wake() // folds into the first
		synctest.Wait()
		if got := rec.of(EventGranted); len(got) != 1 {
			t.Errorf("after Wake: granted %d allocs, want 1\n%s", len(got), &rec)
		}
		cancel()
		<-errc
	})
}

// A request whose demand goes away while Allocate waits is cancelled at
// the next tick, and leaves nothing behind in the pool; the snapshots
// after it say how long it waited (Snapshot.Cancelled).
func TestVanishedDemandCancelsRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := memPool(t, cpus(4))
		gate := p.Hold(pooltest.OpAccept)
		ev := newFakeEval()
		ev.Ready(dem(cpus(1), 2))
		var rec recorder
		cfg := rec.config(cluster.NewStatic(p))
		k := &keeper{p: mustPolicy(t, DefaultConfig{})}
		cfg.Policy = k
		s, _ := New(cfg)
		ctx, cancel := context.WithCancel(t.Context())
		errc := start(ctx, s, ev)
		if err := gate.Arrived(ctx, 1); err != nil {
			t.Fatal(err)
		}
		ev.Ready() // the tasks were placed elsewhere
		advance(time.Second)
		got := rec.of(EventCancelled)
		if len(got) != 1 || got[0].RequestID != "r1" || !strings.Contains(got[0].Reason, "demand gone") {
			t.Errorf("cancelled %v, want r1 cancelled because its demand is gone\n%s", got, &rec)
		}
		advance(time.Second)
		if last := k.last(); !slices.Equal(last.Cancelled, []time.Duration{time.Second}) || len(last.Latency) != 0 {
			t.Errorf("after the cancel: cancelled after %v, latencies %v; want [1s] and none", last.Cancelled, last.Latency)
		}
		gate.Open()
		synctest.Wait()
		if st := p.Stats(); st.Allocs != 0 || len(liveAllocs(t, p)) != 0 {
			t.Errorf("a cancelled request left %d allocs (%v)", st.Allocs, liveAllocs(t, p))
		}
		if got := rec.of(EventGranted); len(got) != 0 {
			t.Errorf("granted %v after the cancel", got)
		}
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	})
}

// An idle alloc is drained and freed within the idle timeout and a tick;
// a busy one is never drained, however long it runs.
func TestIdleFreedBusyKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := memPool(t, cpus(4), cpus(4))
		ev := newFakeEval()
		ev.Ready(dem(cpus(4), 2))
		var rec recorder
		cfg := rec.config(cluster.NewStatic(p))
		cfg.Policy = mustPolicy(t, DefaultConfig{IdleTimeout: time.Minute})
		s, _ := New(cfg)
		ctx, cancel := context.WithCancel(t.Context())
		errc := start(ctx, s, ev)
		synctest.Wait()
		ids := liveAllocs(t, p)
		if len(ids) != 2 {
			t.Fatalf("allocs %v, want 2\n%s", ids, &rec)
		}
		busy, idle := ids[0], ids[1]
		// The tasks start, one on each alloc.
		ev.Ready()
		ev.SetBusy(busy, 1, cpus(4))
		ev.SetBusy(idle, 1, cpus(4))
		advance(10*time.Minute + 300*time.Millisecond)
		ev.SetBusy(idle, 0, nil)
		idleAt := time.Now()
		advance(time.Minute + time.Second)
		if got := liveAllocs(t, p); !slices.Equal(got, []string{busy}) {
			t.Errorf("a minute and a tick after %s went idle: live allocs %v, want only %s\n%s", idle, got, busy, &rec)
		}
		for _, e := range rec.of(EventReleased) {
			if d := e.Time.Sub(idleAt); d > time.Minute+time.Second {
				t.Errorf("released %s %v after it went idle, want at most idle timeout + tick", e.AllocID, d)
			}
		}
		advance(2 * time.Hour)
		if got := ev.drained(); !slices.Equal(got, []string{idle}) {
			t.Errorf("drained %v, want only the idle %s", got, idle)
		}
		if got := liveAllocs(t, p); !slices.Equal(got, []string{busy}) {
			t.Errorf("after 2h: live allocs %v, want the busy %s", got, busy)
		}
		cancel()
		<-errc
		if got := liveAllocs(t, p); len(got) != 0 {
			t.Errorf("after Run: live allocs %v", got)
		}
	})
}

// Failing allocations back off, exponentially, and the stealer recovers
// once the cluster does.
func TestFailingAllocationsBackOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := memPool(t, cpus(4))
		for range 3 {
			p.FailNext(pooltest.OpCapacity, ebb.ErrUnavailable)
		}
		ev := newFakeEval()
		ev.Ready(dem(cpus(1), 2))
		rec, stop := runKeeping(t, p, ev)
		advance(time.Minute)
		failed, requested := rec.of(EventFailed), rec.of(EventRequested)
		if len(failed) != 3 || len(requested) != 4 || len(rec.of(EventGranted)) != 1 {
			t.Fatalf("want 4 requests, 3 failed and 1 granted:\n%s", rec)
		}
		// With RetryMinWait 1s: waits of 1s, 2s, 4s, a fifth jittered.
		for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
			gap := requested[i+1].Time.Sub(requested[i].Time)
			if gap < want*8/10 || gap > want {
				t.Errorf("request %d came %v after the one before, want %v less at most a fifth", i+2, gap, want)
			}
			if !errors.Is(failed[i].Err, ebb.ErrUnavailable) || !strings.Contains(failed[i].Reason, "next request in") {
				t.Errorf("failure event %+v, want ErrUnavailable and when the next request comes", failed[i])
			}
		}
		if got := liveAllocs(t, p); len(got) != 1 {
			t.Errorf("after recovery: live allocs %v, want 1", got)
		}
		stop()
	})
}

// Cancelling Run cancels what is in flight and frees every alloc, busy or
// not; synctest.Test checks that no goroutine is left.
func TestCancelledRunLeavesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := memPool(t, cpus(2), cpus(2), cpus(4))
		ev := newFakeEval()
		ev.Ready(dem(cpus(2), 2))
		var rec recorder
		s, _ := New(rec.config(cluster.NewStatic(p)))
		ctx, cancel := context.WithCancel(t.Context())
		errc := start(ctx, s, ev)
		synctest.Wait()
		ids := liveAllocs(t, p)
		if len(ids) != 2 {
			t.Fatalf("allocs %v, want 2\n%s", ids, &rec)
		}
		for _, id := range ids {
			ev.SetBusy(id, 1, cpus(2))
		}
		gate := p.Hold(pooltest.OpAccept)
		ev.Ready(dem(cpus(4), 1))
		advance(time.Second)
		if err := gate.Arrived(ctx, 1); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
		if got := liveAllocs(t, p); len(got) != 0 {
			t.Errorf("after Run: live allocs %v", got)
		}
		if st := p.Stats(); st.Frees != st.Allocs || st.Allocs != 2 {
			t.Errorf("pool stats %+v, want 2 allocs, both freed", st)
		}
		acquired, released := rec.calls()
		slices.Sort(acquired)
		slices.Sort(released)
		if !slices.Equal(acquired, ids) || !slices.Equal(released, ids) {
			t.Errorf("OnAcquire %v, OnRelease %v, want both %v", acquired, released, ids)
		}
		got := rec.of(EventCancelled)
		if len(got) != 1 || !strings.Contains(got[0].Reason, "run ended") {
			t.Errorf("cancelled %v, want the request in flight cancelled as the run ended\n%s", got, &rec)
		}
	})
}

// When the evaluation is done, Run frees everything and returns nil.
func TestEvaluationDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := memPool(t, cpus(4), cpus(4))
		ev := newFakeEval()
		ev.Ready(dem(cpus(4), 2))
		var rec recorder
		cfg := rec.config(cluster.NewStatic(p))
		// Idle allocs are kept past the 5 s below, so that the end of
		// the evaluation is what frees them.
		cfg.Policy = mustPolicy(t, DefaultConfig{IdleTimeout: time.Hour})
		s, _ := New(cfg)
		errc := start(t.Context(), s, ev)
		synctest.Wait()
		ev.Ready()
		advance(5 * time.Second)
		ev.Finish()
		if err := <-errc; err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
		if got := liveAllocs(t, p); len(got) != 0 {
			t.Errorf("after Run: live allocs %v", got)
		}
		released := rec.of(EventReleased)
		if len(released) != 2 {
			t.Fatalf("released %d allocs, want 2\n%s", len(released), &rec)
		}
		for _, e := range released {
			if !strings.HasSuffix(e.Reason, "evaluation done") {
				t.Errorf("released: %q, want it to say the evaluation is done", e.Reason)
			}
		}
	})
}

// Every cluster is an Allocator.
var _ Allocator = (cluster.Cluster)(nil)

// sized is a cluster that says what its nodes hold.
type sized struct {
	cluster.Cluster
	nodes []ebb.Resources
}

func (s sized) Sizes() []ebb.Resources { return s.nodes }

// A Stealer puts what a Sizer says in every snapshot.
func TestSnapshotNodes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := memPool(t, cpus(4))
		ev := newFakeEval()
		var seen []ebb.Resources
		cfg := Config{Cluster: sized{cluster.NewStatic(p), []ebb.Resources{cpus(8)}},
			Policy: PolicyFunc(func(s Snapshot) Plan { seen = s.Nodes; return Plan{} })}
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		errc := start(ctx, s, ev)
		synctest.Wait()
		cancel()
		<-errc
		if len(seen) != 1 || !seen[0].Equal(cpus(8)) {
			t.Errorf("Snapshot.Nodes = %v, want what the cluster's Sizes said", seen)
		}
	})
}

// A Stealer's snapshots start from what an earlier stealer learned of
// the cluster (Config.Learned), and Learned returns that with what Run
// observed once it has returned.
func TestLearnedCarriesOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := memPool(t, cpus(4))
		ev := newFakeEval()
		ev.Ready(dem(cpus(4), 1))
		earlier := Learned{Latency: []time.Duration{5 * time.Minute}, Cancelled: []time.Duration{7 * time.Minute}}
		var first Snapshot
		asked := false
		cfg := Config{Cluster: cluster.NewStatic(p), Learned: earlier,
			Policy: PolicyFunc(func(s Snapshot) Plan {
				if asked {
					return Plan{}
				}
				first, asked = s, true
				return Plan{Acquire: []Request{{Requirements: req(cpus(4), 1)}}}
			})}
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		earlier.Latency[0] = 0 // the Stealer keeps its own copy
		ctx, cancel := context.WithCancel(t.Context())
		errc := start(ctx, s, ev)
		advance(time.Second)
		cancel()
		<-errc
		if !slices.Equal(first.Latency, []time.Duration{5 * time.Minute}) || !slices.Equal(first.Cancelled, []time.Duration{7 * time.Minute}) {
			t.Errorf("first snapshot: Latency %v, Cancelled %v; want what Config.Learned said", first.Latency, first.Cancelled)
		}
		got := s.Learned()
		if len(got.Latency) != 2 || got.Latency[0] != 5*time.Minute || !slices.Equal(got.Cancelled, []time.Duration{7 * time.Minute}) {
			t.Errorf("Learned after Run = %+v, want the earlier latency, then this run's grant", got)
		}
	})
}
