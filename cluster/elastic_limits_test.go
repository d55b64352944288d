package cluster_test

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/clustertest"
)

func TestElasticMaxWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := start(t, clustertest.ProviderConfig{}, cluster.ElasticConfig{MaxWorkers: 2})
		var results []<-chan result
		for range 3 {
			results = append(results, allocate(t.Context(), v, 4, 0, nil))
		}
		advance(batch)
		checkStats(t, v.p, "after the batch window", func(st clustertest.ProviderStats) bool { return st.Launches == 2 })
		advance(launchTime)
		allocs, rest := split(t, results)
		if len(allocs) != 2 || len(rest) != 1 {
			t.Fatalf("%d Allocates returned, want 2", len(allocs))
		}
		advance(10 * launchTime)
		checkStats(t, v.p, "while the workers are full", func(st clustertest.ProviderStats) bool { return st.Launches == 2 })
		waiting(t, rest[0], "with two workers, both full")
		a0 := allocs[0]

		// Freeing an alloc makes room for the third, without a launch.
		if err := a0.Free(t.Context()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		a2 := granted(t, rest[0])
		if workerOf(a2) != workerOf(a0) {
			t.Errorf("third alloc on %s, want the freed worker %s", workerOf(a2), workerOf(a0))
		}
		checkStats(t, v.p, "at the end", func(st clustertest.ProviderStats) bool { return st.Launches == 2 })
	})
}

func TestElasticMaxPending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := start(t, clustertest.ProviderConfig{}, cluster.ElasticConfig{MaxPending: 1})
		var results []<-chan result
		for range 3 {
			results = append(results, allocate(t.Context(), v, 4, 0, nil))
		}
		for i := range 3 {
			advance(batch)
			checkStats(t, v.p, "one launch at a time", func(st clustertest.ProviderStats) bool { return st.Launches == i+1 })
			if l := v.Status().Launching; len(l) != 1 {
				t.Errorf("Status().Launching = %+v, want one launch", l)
			}
			advance(launchTime)
		}
		for _, c := range results {
			granted(t, c)
		}
	})
}

func TestElasticCostCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A four costs 1 a minute, 60 an hour: the cap allows two.
		v := start(t, clustertest.ProviderConfig{}, cluster.ElasticConfig{CostCap: 150})
		var results []<-chan result
		for range 3 {
			results = append(results, allocate(t.Context(), v, 4, 0, nil))
		}
		advance(batch + launchTime)
		checkStats(t, v.p, "under the cost cap", func(st clustertest.ProviderStats) bool { return st.Launches == 2 })
		if allocs, _ := split(t, results); len(allocs) != 2 {
			t.Errorf("%d Allocates returned, want 2", len(allocs))
		}

		// A shape that alone costs more than the cap is never launched.
		dear := cluster.Shape{Name: "dear", Resources: cpu(64), Price: 3}
		v2 := start(t, clustertest.ProviderConfig{Shapes: []cluster.Shape{four, dear}}, cluster.ElasticConfig{CostCap: 150})
		if _, err := v2.Allocate(t.Context(), ebb.Requirements{Min: cpu(32)}, nil); !errors.Is(err, ebb.ErrResources) {
			t.Errorf("Allocate of a request only a shape over the cap holds: %v, want ErrResources", err)
		}
		caps, _ := v2.Capacity(t.Context())
		if len(caps) != 1 || !caps[0].Equal(cpu(4)) {
			t.Errorf("Capacity = %v, want only the four", caps)
		}
	})
}

func TestElasticBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const min, max = 10 * time.Second, 15 * time.Second
		v := start(t, clustertest.ProviderConfig{}, cluster.ElasticConfig{BackoffMin: min, BackoffMax: max},
			func(p *clustertest.Provider) {
				p.FailNext("four", ebb.ErrUnavailable)
				p.FailNext("four", ebb.ErrUnavailable)
			})
		res := allocate(t.Context(), v, 1, 0, nil)
		advance(batch + launchTime)
		// Each failure blocks the shape for a wait that doubles up to
		// BackoffMax, less up to a fifth of jitter; the next launch comes
		// when it ends.
		for i, wait := range []time.Duration{min, max} {
			checkStats(t, v.p, "after a failed launch", func(st clustertest.ProviderStats) bool { return st.Launches == i+1 && st.Failed == i+1 })
			until, ok := v.Status().Blocked["four"]
			if left := time.Until(until); !ok || left < wait*8/10 || left > wait {
				t.Fatalf("after failure %d: Status().Blocked = %v, want four blocked for %v less up to a fifth", i+1, v.Status().Blocked, wait)
			}
			advance(time.Until(until) - time.Millisecond)
			checkStats(t, v.p, "before the backoff ends", func(st clustertest.ProviderStats) bool { return st.Launches == i+1 })
			advance(2 * time.Millisecond)
			checkStats(t, v.p, "when the backoff ends", func(st clustertest.ProviderStats) bool { return st.Launches == i+2 })
			advance(launchTime)
		}
		granted(t, res)
		if b := v.Status().Blocked; len(b) != 0 {
			t.Errorf("Status().Blocked after a successful launch = %v, want none", b)
		}
	})
}

func TestElasticBackoffFallsBackToAnotherShape(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eight := cluster.Shape{Name: "eight", Resources: cpu(8), Price: 2}
		v := start(t, clustertest.ProviderConfig{Shapes: []cluster.Shape{four, eight}}, cluster.ElasticConfig{},
			func(p *clustertest.Provider) { p.FailNext("four", ebb.ErrUnavailable) })
		res := allocate(t.Context(), v, 1, 0, nil)
		advance(batch + launchTime)
		checkStats(t, v.p, "after the cheap shape failed", func(st clustertest.ProviderStats) bool { return st.Failed == 1 })
		advance(batch)
		checkStats(t, v.p, "a batch window later", func(st clustertest.ProviderStats) bool { return st.Launches == 2 })
		advance(launchTime)
		granted(t, res)
		checkStats(t, v.p, "at the end", func(st clustertest.ProviderStats) bool { return st.Shapes["eight"] == 1 })
	})
}

func TestElasticShapeRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := start(t, clustertest.ProviderConfig{}, cluster.ElasticConfig{},
			func(p *clustertest.Provider) { p.FailNext("four", ebb.ErrResources) })
		res := allocate(t.Context(), v, 1, 0, nil)
		advance(batch + launchTime)
		if r := got(t, res); !errors.Is(r.err, ebb.ErrResources) {
			t.Errorf("Allocate when the only shape is refused: %v, %v; want ErrResources", r.a, r.err)
		}
		if _, err := v.Allocate(t.Context(), ebb.Requirements{Min: cpu(1)}, nil); !errors.Is(err, ebb.ErrResources) {
			t.Errorf("later Allocate: %v, want ErrResources at once", err)
		}
		if caps, _ := v.Capacity(t.Context()); len(caps) != 0 {
			t.Errorf("Capacity = %v, want none", caps)
		}
	})
}
