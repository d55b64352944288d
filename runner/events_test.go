package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/stealer"
)

// drain closes s and returns every event left in it.
func drain(t *testing.T, s *Subscription) []Event {
	t.Helper()
	s.Close()
	var out []Event
	for {
		ev, err := s.Next(t.Context())
		if errors.Is(err, ebb.ErrClosed) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
}

// story returns the kinds of a task's events, in order, as "queued
// started finished".
func story(evs []Event, task string) string {
	var kinds []string
	for _, ev := range evs {
		if ev.Task == task && ev.Kind != EventStealer {
			kinds = append(kinds, ev.Kind.String())
		}
	}
	return strings.Join(kinds, " ")
}

func find(evs []Event, task string, kind EventKind) []Event {
	var out []Event
	for _, ev := range evs {
		if ev.Task == task && ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

func TestEventsTellEachTasksLife(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := memPool(t, ebb.Resources{ebb.CPU: 4})
		flow := c.diamond(3, oneCPU)
		for i := range flow.Tasks {
			flow.Tasks[i].Func = slowFunc(&c, flow.Tasks[i].Name, time.Minute)
		}
		// mid-01 fails once in a way that may pass, and is tried again.
		flow.Tasks[2].Attempts = 2
		flow.Tasks[2].Func = func(ctx context.Context, env ebb.FuncEnv) error {
			c.inc("mid-01")
			if c.get("mid-01") == 1 {
				return fmt.Errorf("flaky: %w", ebb.ErrUnavailable)
			}
			return slowFunc(&c, "", time.Minute)(ctx, env)
		}
		cache := newMemCache()
		bus := NewEventBus()
		sub := bus.Subscribe(0)
		r, err := New(Config{Flow: flow, Cluster: static(p), Cache: cache, Events: bus}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		evs := drain(t, sub)
		for i := range flow.Tasks {
			name := flow.Tasks[i].Name
			want := "queued started finished"
			if name == "mid-01" {
				want = "queued started retried started finished"
			}
			if got := story(evs, name); got != want {
				t.Errorf("%s: events %q, want %q", name, got, want)
			}
		}
		for _, ev := range find(evs, "mid-00", EventStarted) {
			if ev.AllocID == "" || ev.Pool != p.ID() || ev.Digest == "" || ev.Try != 0 {
				t.Errorf("started %+v: want the alloc, pool %s, the digest and try 0", ev, p.ID())
			}
		}
		for _, ev := range find(evs, "mid-00", EventFinished) {
			if ev.Cached || ev.ExitCode != 0 || ev.Duration != time.Minute || ev.Resources[ebb.CPU] != 1 {
				t.Errorf("finished %+v: want run, exit 0, 1m, 1 cpu", ev)
			}
		}
		if got := find(evs, "mid-01", EventRetried); len(got) != 1 || got[0].Try != 1 || !strings.Contains(got[0].Error, "flaky") {
			t.Errorf("retried %+v: want one, try 1, with the error", got)
		}
		if got := find(evs, "mid-01", EventStarted); len(got) != 2 || got[1].Try != 1 {
			t.Errorf("mid-01 started %+v: the second try counts the failed one", got)
		}
		for i := 1; i < len(evs); i++ {
			if evs[i].Time.Before(evs[i-1].Time) {
				t.Errorf("event %d (%v) is older than the one before (%v)", i, evs[i].Time, evs[i-1].Time)
			}
		}

		// Run again: the sink comes from the cache, and nothing runs.
		sub = bus.Subscribe(0)
		r, err = New(Config{Flow: flow, Cluster: static(p), Cache: cache, Events: bus}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		evs = drain(t, sub)
		if len(evs) != 1 || evs[0].Kind != EventFinished || !evs[0].Cached || evs[0].Task != "sink" {
			t.Errorf("second run's events %+v, want the sink finished, cached", evs)
		}
	})
}

func TestEventsLostAllocRequeues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := memPool(t, ebb.Resources{ebb.CPU: 2}, ebb.Resources{ebb.CPU: 2})
		flow := c.wide(4, time.Minute)
		bus := NewEventBus()
		sub := bus.Subscribe(0)
		e := newEval(t, flow, EvalConfig{Events: bus})
		two := ebb.Requirements{Min: ebb.Resources{ebb.CPU: 2}}
		a1, _ := pool.Allocate(t.Context(), p, two, nil)
		errc := make(chan error, 1)
		go func() { errc <- e.Work(t.Context(), a1) }()
		advance(30 * time.Second) // virtual: a1 runs two tasks, half way
		a2, _ := pool.Allocate(t.Context(), p, two, nil)
		go func() { errc <- e.Work(t.Context(), a2) }()
		advance(0) // a2 starts the other two
		if err := p.Kill(a1.ID()); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; !errors.Is(err, ebb.ErrExpired) {
			t.Errorf("Work on the lost alloc = %v, want ErrExpired", err)
		}
		if err := e.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		<-errc
		a2.Free(t.Context())
		evs := drain(t, sub)
		lost := 0
		for _, task := range flow.Tasks {
			starts := find(evs, task.Name, EventStarted)
			if starts[0].AllocID != a1.ID() {
				if got := story(evs, task.Name); got != "queued started finished" {
					t.Errorf("%s, on the live alloc: events %q", task.Name, got)
				}
				continue
			}
			lost++
			if got, want := story(evs, task.Name), "queued started lost started finished"; got != want {
				t.Errorf("%s, on the lost alloc: events %q, want %q", task.Name, got, want)
			}
			l := find(evs, task.Name, EventLost)
			if len(l) != 1 || l[0].AllocID != a1.ID() || l[0].Error == "" {
				t.Errorf("%s lost: %+v, want a1 %s and why", task.Name, l, a1.ID())
			}
			if len(starts) == 2 && starts[1].AllocID != a2.ID() {
				t.Errorf("%s started again on %s, want a2 %s", task.Name, starts[1].AllocID, a2.ID())
			}
		}
		if lost != 2 {
			t.Errorf("%d tasks started on the lost alloc, want 2", lost)
		}
	})
}

// A subscriber that does not read holds up nothing: the run ends in the
// time it takes without one, and the subscriber, once it reads again,
// learns how many events it missed.
func TestEventsSlowSubscriberLosesEventsNotTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := memPool(t, ebb.Resources{ebb.CPU: 4})
		flow := c.diamond(10, oneCPU)
		for i := range flow.Tasks {
			flow.Tasks[i].Func = slowFunc(&c, flow.Tasks[i].Name, time.Minute)
		}
		bus := NewEventBus()
		all := bus.Subscribe(0)
		slow := bus.Subscribe(4)
		release := make(chan struct{})
		firstc := make(chan Event, 1)
		go func() {
			ev, err := slow.Next(t.Context())
			if err != nil {
				t.Error(err)
			}
			firstc <- ev
			<-release // the subscriber is stuck while the run goes on
		}()
		r, err := New(Config{Flow: flow, Cluster: static(p), Events: bus}, nil)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := r.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		// 1 + 10 (on 4 cpus: 3 rounds) + 1 minutes, as without events.
		if got := time.Since(start); got != 5*time.Minute {
			t.Errorf("run took %v, want 5m", got)
		}
		close(release)
		got := append([]Event{<-firstc}, drain(t, slow)...)
		want := drain(t, all)
		if len(want) != 3*12 {
			t.Fatalf("%d events in all, want 3 for each of 12 tasks", len(want))
		}
		var kept []Event
		dropped := 0
		for _, ev := range got {
			if ev.Kind == EventDropped {
				dropped += ev.Dropped
				continue
			}
			kept = append(kept, ev)
		}
		if dropped == 0 || len(kept)+dropped != len(want) {
			t.Errorf("the slow subscriber kept %d events and was told of %d dropped; want some dropped, %d in all", len(kept), dropped, len(want))
		}
		// What it kept came in the order of the whole stream.
		i := 0
		for _, ev := range kept {
			for i < len(want) && !(want[i].Task == ev.Task && want[i].Kind == ev.Kind) {
				i++
			}
			if i == len(want) {
				t.Fatalf("kept event %s %s is out of the stream's order", ev.Task, ev.Kind)
			}
			i++
		}
	})
}

func TestSubscriptionDropsInOrder(t *testing.T) {
	bus := NewEventBus()
	s := bus.Subscribe(2)
	pub := func(names ...string) {
		for _, n := range names {
			bus.publish(Event{Kind: EventQueued, Task: n})
		}
	}
	next := func() string {
		t.Helper()
		ev, err := s.Next(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == EventDropped {
			return fmt.Sprintf("dropped %d", ev.Dropped)
		}
		return ev.Task
	}
	pub("a", "b", "c", "d")
	var got []string
	got = append(got, next())
	pub("e") // room for one: not for the count and e both
	got = append(got, next(), next())
	pub("f", "g", "h")
	got = append(got, next())
	pub("i")
	got = append(got, next(), next())
	want := []string{"a", "b", "dropped 3", "f", "g", "dropped 2"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	// With room for the count and the next event, both are buffered, in
	// the stream's order.
	s.Close()
	s = bus.Subscribe(3)
	pub("1", "2", "3", "4")
	got = []string{next(), next()}
	pub("5")
	got = append(got, next(), next(), next())
	if want := []string{"1", "2", "3", "dropped 1", "5"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	pub("j")
	s.Close()
	pub("k")
	if got := next(); got != "j" {
		t.Errorf("after Close: %q, want the buffered j", got)
	}
	if _, err := s.Next(t.Context()); !errors.Is(err, ebb.ErrClosed) {
		t.Errorf("Next on a closed, empty subscription = %v, want ErrClosed", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := bus.Subscribe(1).Next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Next with a done context = %v", err)
	}
	var none *EventBus
	none.publish(Event{Kind: EventQueued}) // a nil bus publishes nothing
}

// The stealer's decisions come in the same stream, and still reach
// StealConfig.OnEvent.
func TestEventsCarryStealerDecisions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := memPool(t, ebb.Resources{ebb.CPU: 2}, ebb.Resources{ebb.CPU: 2}, ebb.Resources{ebb.CPU: 2})
		flow := c.wide(6, time.Minute)
		bus := NewEventBus()
		sub := bus.Subscribe(0)
		var direct events
		r, err := New(Config{
			Flow: flow, Cluster: static(p), Aux: static(p), Events: bus,
			Primary: ebb.Requirements{Min: ebb.Resources{ebb.CPU: 2}},
			Steal:   StealConfig{OnEvent: direct.add},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		evs := drain(t, sub)
		granted := map[string]bool{}
		n := 0
		for _, ev := range evs {
			if ev.Kind != EventStealer {
				continue
			}
			n++
			if ev.Stealer.Kind == stealer.EventGranted {
				granted[ev.AllocID] = true
			}
		}
		if len(granted) == 0 || n != len(direct.all) {
			t.Errorf("%d stealer events (%d allocs granted) in the stream, %d to OnEvent; want some, the same", n, len(granted), len(direct.all))
		}
		onAux := 0
		for _, ev := range evs {
			if ev.Kind == EventStarted && granted[ev.AllocID] {
				onAux++
			}
		}
		if onAux == 0 {
			t.Errorf("no task started on an auxiliary alloc")
		}
	})
}

// A lost primary sends the run to Retry: the tasks it ran are lost, and
// the next eval queues them again; what finished comes from the cache.
func TestEventsPrimaryLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := memPool(t)
		flow := c.diamond(3, oneCPU)
		for i := range flow.Tasks {
			flow.Tasks[i].Func = slowFunc(&c, flow.Tasks[i].Name, time.Minute)
		}
		bus := NewEventBus()
		sub := bus.Subscribe(0)
		r, err := New(Config{Flow: flow, Cluster: static(p), Cache: newMemCache(), Events: bus}, nil)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() { done <- r.Run(t.Context()) }()
		advance(90 * time.Second) // virtual: the source is done, the middle half way
		first := r.State().Primary.ID
		if err := p.Kill(first); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		evs := drain(t, sub)
		if got, want := story(evs, "source"), "queued started finished finished"; got != want {
			t.Errorf("source: %q, want %q (the second from the cache)", got, want)
		}
		if got := find(evs, "source", EventFinished); len(got) != 2 || got[0].Cached || !got[1].Cached {
			t.Errorf("source finished %+v: want run, then cached", got)
		}
		if got, want := story(evs, "mid-00"), "queued started lost queued started finished"; got != want {
			t.Errorf("mid-00: %q, want %q", got, want)
		}
		if got := find(evs, "mid-00", EventLost); len(got) != 1 || got[0].AllocID != first {
			t.Errorf("mid-00 lost %+v, want on the first primary %s", got, first)
		}
	})
}
