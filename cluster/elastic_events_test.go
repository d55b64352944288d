package cluster_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/clustertest"
	"github.com/grailbio/base/status"
)

// workerLog records the worker events an Elastic reports.
type workerLog struct {
	mu  sync.Mutex
	evs []cluster.WorkerEvent
}

func (l *workerLog) add(ev cluster.WorkerEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, ev)
}

// kinds returns "KIND WORKER" for each event so far, and starts over.
func (l *workerLog) kinds() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, ev := range l.evs {
		if ev.Cluster != "elastic" || ev.Time.IsZero() || ev.Reason == "" {
			out = append(out, fmt.Sprintf("bad event %+v", ev))
		}
		out = append(out, strings.TrimSpace(ev.Kind.String()+" "+string(ev.Worker)))
	}
	l.evs = nil
	return out
}

// An Elastic tells OnWorker of every launch, adoption, loss and stop, in
// order, and its Status group counts its workers and shows the waiting
// Allocates.
func TestElasticWorkerEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log workerLog
		var st status.Status
		g := st.Group("workers")
		v := start(t, clustertest.ProviderConfig{}, cluster.ElasticConfig{OnWorker: log.add, Status: g},
			func(p *clustertest.Provider) { p.Add("four") })
		if got, want := log.kinds(), []string{"adopted w1"}; !slices.Equal(got, want) {
			t.Errorf("at Run's start: events %q, want %q", got, want)
		}
		// w1 is taken; the next Allocate waits for a launch, and shows.
		a, err := v.Allocate(t.Context(), ebb.Requirements{Min: cpu(4)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		res := allocate(t.Context(), v, 4, 0, nil)
		advance(batch)
		if got := g.Value().Status; got != "1 up (1 adopted), 1 launching, 1 allocs waiting" {
			t.Errorf("status while launching: %q", got)
		}
		tasks := g.Tasks()
		if len(tasks) != 1 || !strings.HasPrefix(tasks[0].Value().Title, "allocate 4 cpu") {
			t.Errorf("status tasks while an Allocate waits: %d, want one 'allocate 4 cpu'", len(tasks))
		}
		advance(launchTime)
		b := granted(t, res)
		if got, want := log.kinds(), []string{"launching", "up w2"}; !slices.Equal(got, want) {
			t.Errorf("after a launch: events %q, want %q", got, want)
		}
		if tasks := g.Tasks(); len(tasks) != 1 || tasks[0].Value().End.IsZero() {
			t.Errorf("the granted Allocate's status task is not done")
		}
		// A failed launch.
		v.p.FailNext("four", fmt.Errorf("no room: %w", ebb.ErrUnavailable))
		res = allocate(t.Context(), v, 4, 0, nil)
		advance(batch + launchTime)
		if got, want := log.kinds(), []string{"launching", "launch_failed"}; !slices.Equal(got, want[:min(len(got), 2)]) || len(got) < 2 {
			t.Errorf("after a failed launch: events %q, want %q first", got, want)
		}
		// w2 dies: it is lost once, however many polls it misses, then
		// stopped when idle.
		if err := b.Free(t.Context()); err != nil {
			t.Fatal(err)
		}
		v.p.Pool("w2").Close()
		advance(idle + 2*poll)
		got := log.kinds()
		want := []string{"lost w2", "stopping w2", "stopped w2"}
		if !isSubsequence(want, got) || count(got, "lost w2") != 1 {
			t.Errorf("after w2 died: events %q, want %q in order, one lost", got, want)
		}
		if err := a.Free(t.Context()); err != nil {
			t.Fatal(err)
		}
		<-res
		v.stop()
		if got := log.kinds(); !slices.Contains(got, "stopped w1") {
			t.Errorf("after Run: events %q, want w1 stopped", got)
		}
		if got := g.Value().Status; !strings.HasPrefix(got, "0 up, 0 launching") {
			t.Errorf("status after Run: %q", got)
		}
	})
}

// With KeepWorkers, the workers left running are reported as kept.
func TestElasticWorkerEventsKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log workerLog
		v := start(t, clustertest.ProviderConfig{}, cluster.ElasticConfig{OnWorker: log.add, KeepWorkers: true},
			func(p *clustertest.Provider) { p.Add("four") })
		v.stop()
		if got, want := log.kinds(), []string{"adopted w1", "kept w1"}; !slices.Equal(got, want) {
			t.Errorf("events %q, want %q", got, want)
		}
	})
}

func isSubsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

func count(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}
