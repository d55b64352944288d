package runner

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/grailbio/base/status"
)

// statusTasks returns the titles of g's tasks that are not done.
func statusTasks(g *status.Group) []string {
	var out []string
	for _, t := range g.Tasks() {
		if v := t.Value(); v.End.IsZero() {
			out = append(out, v.Title)
		}
	}
	slices.Sort(out)
	return out
}

// A run's Status group shows its progress as it goes, and each task
// running on an alloc as a status task until it ends.
func TestStatusShowsProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := memPool(t, ebb.Resources{ebb.CPU: 2})
		flow := c.diamond(3, oneCPU)
		for i := range flow.Tasks {
			flow.Tasks[i].Func = slowFunc(&c, flow.Tasks[i].Name, time.Minute)
		}
		var st status.Status
		g := st.Group("run")
		r, err := New(Config{Flow: flow, Cluster: static(p), Status: g}, nil)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- r.Run(t.Context()) }()
		time.Sleep(time.Second) // the source runs
		synctest.Wait()
		if got, want := g.Value().Status, "tasks: 0 done, 0 cached, 1 running, 4 waiting"; got != want {
			t.Errorf("status while the source runs: %q, want %q", got, want)
		}
		if got, want := statusTasks(g), []string{"source"}; !slices.Equal(got, want) {
			t.Errorf("status tasks while the source runs: %q, want %q", got, want)
		}
		time.Sleep(time.Minute) // two of the three middle tasks run
		synctest.Wait()
		if got, want := g.Value().Status, "tasks: 1 done, 0 cached, 2 running, 2 waiting"; got != want {
			t.Errorf("status while the middle runs: %q, want %q", got, want)
		}
		if got := statusTasks(g); len(got) != 2 || slices.Contains(got, "source") {
			t.Errorf("status tasks while the middle runs: %q, want two middle tasks", got)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got, want := g.Value().Status, "tasks: 5 done, 0 cached, 0 running, 0 waiting"; got != want {
			t.Errorf("status at the end: %q, want %q", got, want)
		}
		if got := statusTasks(g); len(got) != 0 {
			t.Errorf("status tasks left at the end: %q", got)
		}
	})
}

func TestProgressString(t *testing.T) {
	p := Progress{Tasks: 9, Done: 1, Cached: 2, Running: 3, Ready: 1, Waiting: 2}
	if got, want := p.String(), "tasks: 1 done, 2 cached, 3 running, 3 waiting"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// EventBus.Worker puts a cluster's worker events in the run's stream,
// with their own times.
func TestEventBusWorker(t *testing.T) {
	bus := NewEventBus()
	sub := bus.Subscribe(0)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	bus.Worker(cluster.WorkerEvent{Time: at, Kind: cluster.WorkerUp, Cluster: "elastic", Worker: "w1", Shape: "small", Launch: 1, Reason: "launch 1 up after 1s"})
	var nilBus *EventBus
	nilBus.Worker(cluster.WorkerEvent{Kind: cluster.WorkerUp}) // no panic, nothing
	evs := drain(t, sub)
	if len(evs) != 1 {
		t.Fatalf("events %+v, want one", evs)
	}
	ev := evs[0]
	if ev.Kind != EventWorker || ev.Kind.String() != "worker" || !ev.Time.Equal(at) || ev.Worker == nil || ev.Worker.Worker != "w1" || ev.Worker.Kind != cluster.WorkerUp {
		t.Errorf("event %+v (worker %+v), want the worker's event, at its time", ev, ev.Worker)
	}
}
