package stealer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
)

// The snapshots the policy gets say what the stealer holds, what works for
// the evaluation, what is in flight, and what happened.
func TestSnapshots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := memPool(t, cpus(2), cpus(4))
		ev := newFakeEval()
		prim, err := pool.Allocate(t.Context(), p, req(cpus(2), 1), nil)
		if err != nil {
			t.Fatal(err)
		}
		go ev.Work(t.Context(), prim)
		synctest.Wait()
		ev.SetBusy(prim.ID(), 2, cpus(2))

		k := &keeper{p: mustPolicy(t, DefaultConfig{IdleTimeout: time.Minute})}
		lastSnap := k.last
		var rec recorder
		cfg := rec.config(cluster.NewStatic(p))
		cfg.Policy = k
		s, _ := New(cfg)
		p.SetDelay(pooltest.OpAccept, 3*time.Second)
		ev.Ready(dem(cpus(1), 4))
		ctx, cancel := context.WithCancel(t.Context())
		// Tasks of 10 min: all 4 waiting would still wait when an
		// alloc came, so all 4 are bought.
		errc := start(ctx, s, heldEcho{estimating{ev, 10 * time.Minute}})
		advance(time.Second)
		last := lastSnap()
		if len(last.Others) != 1 || last.Others[0].ID != prim.ID() || last.Others[0].Running != 2 {
			t.Errorf("while requesting: others %+v, want the primary running 2", last.Others)
		}
		if len(last.Pending) != 1 || last.Pending[0].ID != "r1" || len(last.Pending[0].For) != 1 || last.Pending[0].For[0].Count != 4 {
			t.Errorf("while requesting: pending %+v, want r1 for 4 tasks", last.Pending)
		}
		if last.TaskDuration != 10*time.Minute {
			t.Errorf("task duration %v, want the evaluator's 10m", last.TaskDuration)
		}
		if last.Tick != time.Second {
			t.Errorf("tick %v, want the default Config.Tick, 1s", last.Tick)
		}
		if last.Critical.Packed != 2*time.Second {
			t.Errorf("critical path asked of %v cpus, want the primary's 2", last.Critical.Packed.Seconds())
		}
		advance(3 * time.Second)
		last = lastSnap()
		if len(last.Held) != 1 || !last.Held[0].Working || !last.Held[0].Resources.Equal(cpus(4)) || len(last.Pending) != 0 {
			t.Errorf("once granted: held %+v, pending %+v; want one working alloc of 4 cpu", last.Held, last.Pending)
		}
		if !slices.Equal(last.Latency, []time.Duration{3 * time.Second}) {
			t.Errorf("latency %v, want [3s]", last.Latency)
		}
		if last.Critical.Packed != 6*time.Second {
			t.Errorf("critical path asked of %v cpus, want the primary's 2 and the alloc's 4", last.Critical.Packed.Seconds())
		}
		ev.Ready()
		advance(time.Minute + time.Second)
		last = lastSnap()
		if len(last.Held) != 0 || len(last.Recent) != 2 || last.Recent[0].Kind != Acquired || last.Recent[1].Kind != Released {
			t.Errorf("once idle and released: held %+v, recent %+v", last.Held, last.Recent)
		}
		cancel()
		<-errc
		ev.Finish()
	})
}

// A policy's Hold is reported when it begins and when the demand changes,
// not at every tick.
func TestHoldReportedOnChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := memPool(t, cpus(4))
		ev := newFakeEval()
		var rec recorder
		cfg := rec.config(cluster.NewStatic(p))
		cfg.Policy = PolicyFunc(func(s Snapshot) Plan {
			if len(s.Demand) == 0 {
				return Plan{}
			}
			return Plan{Hold: fmt.Sprintf("held: %d waiting", s.Demand[0].Count)}
		})
		s, _ := New(cfg)
		ctx, cancel := context.WithCancel(t.Context())
		errc := start(ctx, s, ev)
		ev.Ready(dem(cpus(1), 3))
		advance(10 * time.Second)
		ev.Ready(dem(cpus(1), 5))
		advance(10 * time.Second)
		ev.Ready()
		advance(10 * time.Second)
		ev.Ready(dem(cpus(1), 5))
		advance(10 * time.Second)
		var got []string
		for _, e := range rec.of(EventHold) {
			got = append(got, e.Reason)
		}
		want := []string{"held: 3 waiting", "held: 5 waiting", "held: 5 waiting"}
		if !slices.Equal(got, want) {
			t.Errorf("hold events %q, want %q", got, want)
		}
		cancel()
		<-errc
	})
}

// A policy's Keep is reported when an alloc starts being kept and when
// the reason changes, not at every tick, and only for allocs the stealer
// holds.
func TestKeptReportedOnChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := memPool(t, cpus(4))
		ev := newFakeEval()
		var rec recorder
		cfg := rec.config(cluster.NewStatic(p))
		var mu sync.Mutex
		why := ""
		keep := func(reason string) {
			mu.Lock()
			why = reason
			mu.Unlock()
		}
		cfg.Policy = PolicyFunc(func(s Snapshot) Plan {
			if len(s.Held) == 0 {
				if len(s.Pending) == 0 {
					return Plan{Acquire: []Request{{Requirements: req(cpus(4), 1), Reason: "one alloc"}}}
				}
				return Plan{}
			}
			mu.Lock()
			defer mu.Unlock()
			if why == "" {
				return Plan{}
			}
			return Plan{Keep: []Keep{{AllocID: s.Held[0].ID, Reason: why}, {AllocID: "a-nobody-holds", Reason: why}}}
		})
		s, _ := New(cfg)
		ctx, cancel := context.WithCancel(t.Context())
		errc := start(ctx, s, ev)
		advance(5 * time.Second)
		for _, step := range []string{"work comes", "work comes", "work comes later", "", "work comes later"} {
			keep(step)
			advance(10 * time.Second)
		}
		var got []string
		for _, e := range rec.of(EventKept) {
			if e.AllocID == "" || !e.Resources.Equal(cpus(4)) {
				t.Errorf("kept event %+v: want the alloc and what it holds", e)
			}
			got = append(got, e.Reason)
		}
		want := []string{"work comes", "work comes later", "work comes later"}
		if !slices.Equal(got, want) {
			t.Errorf("kept events %q, want %q; events:\n%s", got, want, &rec)
		}
		cancel()
		<-errc
	})
}

// The stealer refuses what it cannot do, says so, and goes on.
func TestRejectedPlans(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := memPool(t, cpus(4))
		gate := p.Hold(pooltest.OpAccept)
		ev := newFakeEval()
		var rec recorder
		cfg := rec.config(cluster.NewStatic(p))
		cfg.MaxPending = 2
		calls := 0
		cfg.Policy = PolicyFunc(func(s Snapshot) Plan {
			if calls++; calls > 1 {
				return Plan{}
			}
			one := Request{Requirements: req(cpus(1), 1), Reason: "one more"}
			return Plan{
				Cancel:  []Cancel{{ID: "r9", Reason: "no such request"}},
				Drain:   []Drain{{AllocID: "nope", Reason: "no such alloc"}},
				Acquire: []Request{{Requirements: req(cpus(1), -1), Reason: "bad"}, {Reason: "empty"}, one, one, one, one},
			}
		})
		s, _ := New(cfg)
		ctx, cancel := context.WithCancel(t.Context())
		errc := start(ctx, s, ev)
		synctest.Wait()
		var got []string
		for _, e := range rec.of(EventRejected) {
			got = append(got, e.Reason)
		}
		want := []string{
			"cancel of request r9 refused: not in flight (no such request)",
			"drain of alloc nope refused: not held by this stealer (no such alloc)",
			"request refused: requirements width -1: must not be negative: invalid (bad)",
			"request refused: requirements min: asks for nothing: invalid (empty)",
			"request not made: 2 requests in flight (MaxPending 2) (one more)",
			"request not made: 2 requests in flight (MaxPending 2) (one more)",
		}
		if !slices.Equal(got, want) {
			t.Errorf("rejections:\n%q\nwant\n%q", got, want)
		}
		if n := len(rec.of(EventRequested)); n != 2 {
			t.Errorf("requested %d, want MaxPending 2", n)
		}
		gate.Open()
		cancel()
		<-errc
	})
}

func TestNewInvalid(t *testing.T) {
	c := cluster.NewStatic(pooltest.NewPool(pooltest.PoolConfig{}))
	for _, tc := range []struct {
		name  string
		cfg   Config
		field string
	}{
		{"no cluster", Config{}, "Cluster"},
		{"negative tick", Config{Cluster: c, Tick: -time.Second}, "Tick"},
		{"negative max pending", Config{Cluster: c, MaxPending: -1}, "MaxPending"},
		{"negative free timeout", Config{Cluster: c, FreeTimeout: -1}, "FreeTimeout"},
		{"negative retry wait", Config{Cluster: c, RetryMaxWait: -1}, "RetryMaxWait"},
		{"bad label", Config{Cluster: c, Labels: ebb.Labels{"": "x"}}, "Labels"},
		{"nil alloc", Config{Cluster: c, Allocs: []pool.Alloc{nil}}, "Allocs[0]"},
		{"negative latency learned", Config{Cluster: c, Learned: Learned{Cancelled: []time.Duration{time.Second, -time.Second}}}, "Learned.Cancelled[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("New = %v, want ErrInvalid naming %s", err, tc.field)
			}
		})
	}
}

func TestRunOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := New(Config{Cluster: cluster.NewStatic(memPool(t))})
		if err := s.Run(t.Context(), nil); !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("Run(nil) = %v, want ErrInvalid", err)
		}
		ev := newFakeEval()
		ev.Finish()
		if err := s.Run(t.Context(), ev); err != nil {
			t.Errorf("Run on a done evaluation = %v, want nil", err)
		}
		if err := s.Run(t.Context(), ev); !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("second Run = %v, want ErrInvalid", err)
		}
	})
}

// Every event is also a log record, at warning level for failures.
func TestEventsLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := memPool(t, cpus(4))
		p.FailNext(pooltest.OpCapacity, ebb.ErrUnavailable)
		ev := newFakeEval()
		ev.Ready(dem(cpus(1), 1))
		var buf strings.Builder
		var mu sync.Mutex
		logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{
			ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			},
		}))
		s, _ := New(Config{Cluster: cluster.NewStatic(p), Logger: logger,
			Policy: mustPolicy(t, DefaultConfig{IdleTimeout: time.Hour})})
		ctx, cancel := context.WithCancel(t.Context())
		errc := start(ctx, s, ev)
		advance(2 * time.Second)
		cancel()
		<-errc
		mu.Lock()
		out := buf.String()
		mu.Unlock()
		for _, want := range []string{
			`level=INFO msg="stealer requested" request=r1 resources="1 cpu" reason="requested 1 cpu for 1 waiting task: nothing held can run them"`,
			`level=WARN msg="stealer failed" request=r1 resources="1 cpu" reason="request r1 (1 cpu) failed (1 failure in a row); next request in`,
			`level=INFO msg="stealer granted" request=r2 alloc=memory-alloc-1 resources="1 cpu"`,
			`level=INFO msg="stealer released" alloc=memory-alloc-1 resources="1 cpu" reason="released alloc memory-alloc-1: run ended"`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %s\nlog:\n%s", want, out)
			}
		}
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// startsLate is a fakeEval whose Work starts on an alloc only during the
// next Demand call, after Demand has counted the ready tasks: the moment
// a real evaluation's Work can start at, between the stealer's reads of
// Demand and Load.
type startsLate struct {
	*fakeEval
	mu      sync.Mutex
	waiting []lateStart
}

type lateStart struct {
	id    string
	start chan struct{}
}

func (e *startsLate) Work(ctx context.Context, a pool.Alloc) error {
	s := lateStart{id: a.ID(), start: make(chan struct{})}
	e.mu.Lock()
	e.waiting = append(e.waiting, s)
	e.mu.Unlock()
	select {
	case <-s.start:
	case <-ctx.Done():
		return ctx.Err()
	}
	return e.fakeEval.Work(ctx, a)
}

// Demand counts the ready tasks, then lets the waiting Works start and
// returns once they work for the evaluation.
func (e *startsLate) Demand() []ebb.Demand {
	d := e.fakeEval.Demand()
	e.mu.Lock()
	starts := e.waiting
	e.waiting = nil
	e.mu.Unlock()
	for _, s := range starts {
		close(s.start)
		for {
			e.fakeEval.mu.Lock()
			_, ok := e.fakeEval.workers[s.id]
			news := e.fakeEval.news
			e.fakeEval.mu.Unlock()
			if ok {
				break
			}
			<-news
		}
	}
	return d
}

// An alloc whose Work starts while the stealer takes a snapshot is not
// bought twice: the tasks it is about to take are not counted both as
// demand and as waiting behind its free capacity.
func TestSnapshotWhileWorkStarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := memPool(t, cpus(4))
		ev := &startsLate{fakeEval: newFakeEval()}
		ev.Ready(dem(cpus(1), 2))
		rec, stop := runKeeping(t, p, ev)
		advance(time.Minute)
		if n := len(rec.of(EventRequested)); n != 1 {
			t.Errorf("%d requests, want 1:\n%s", n, rec)
		}
		if got := liveAllocs(t, p); len(got) != 1 {
			t.Errorf("live allocs %v, want 1\n%s", got, rec)
		}
		stop()
	})
}
