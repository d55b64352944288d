package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/clustertest"
	"github.com/ebbflow/ebb/pool"
)

func TestElasticCancelBeforeLaunch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := start(t, clustertest.ProviderConfig{}, cluster.ElasticConfig{})
		ctx, cancel := context.WithCancel(t.Context())
		res := allocate(ctx, v, 1, 0, nil)
		synctest.Wait()
		cancel()
		synctest.Wait()
		if r := got(t, res); !errors.Is(r.err, context.Canceled) {
			t.Errorf("cancelled Allocate = %v, %v; want context.Canceled", r.a, r.err)
		}
		advance(batch + launchTime)
		checkStats(t, v.p, "after a request cancelled in its batch window", func(st clustertest.ProviderStats) bool { return st.Launches == 0 })
		if st := v.Status(); st.Waiting != 0 {
			t.Errorf("Status() = %+v, want nothing waiting", st)
		}
	})
}

func TestElasticCancelledClaimGoesToLaterRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := start(t, clustertest.ProviderConfig{}, cluster.ElasticConfig{})
		ctx, cancel := context.WithCancel(t.Context())
		res := allocate(ctx, v, 4, 0, nil)
		advance(batch + launchTime/2)
		cancel()
		synctest.Wait()
		if r := got(t, res); !errors.Is(r.err, context.Canceled) {
			t.Fatalf("cancelled Allocate = %v, %v; want context.Canceled", r.a, r.err)
		}
		if l := v.Status().Launching; len(l) != 1 || l[0].Claims != 0 {
			t.Errorf("Status().Launching after the cancel = %+v, want one launch with no claims", l)
		}
		// A new request claims the launch in flight: no second launch.
		later := allocate(t.Context(), v, 4, 0, nil)
		advance(batch)
		if l := v.Status().Launching; len(l) != 1 || l[0].Claims != 1 {
			t.Errorf("Status().Launching after a new request = %+v, want the launch claimed once", l)
		}
		advance(launchTime / 2)
		granted(t, later)
		checkStats(t, v.p, "at the end", func(st clustertest.ProviderStats) bool { return st.Launches == 1 && st.Launched == 1 })
	})
}

func TestElasticCancelledClaimIdlesWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := start(t, clustertest.ProviderConfig{}, cluster.ElasticConfig{})
		ctx, cancel := context.WithCancel(t.Context())
		res := allocate(ctx, v, 1, 0, nil)
		advance(batch + launchTime/2)
		cancel()
		synctest.Wait()
		got(t, res)
		advance(launchTime / 2)
		checkStats(t, v.p, "once the launch is done", func(st clustertest.ProviderStats) bool { return st.Launched == 1 && st.Live == 1 })
		allocs, err := v.Allocs(t.Context())
		if err != nil || len(allocs) != 0 {
			t.Errorf("Allocs = %v, %v; want none: nothing is left of the cancelled request", allocs, err)
		}
		advance(idle - poll)
		checkStats(t, v.p, "before the idle timeout", func(st clustertest.ProviderStats) bool { return st.Live == 1 })
		advance(2 * poll)
		checkStats(t, v.p, "after the idle timeout", func(st clustertest.ProviderStats) bool { return st.Terminated == 1 && st.Live == 0 })
		if st := v.Status(); len(st.Workers) != 0 {
			t.Errorf("Status().Workers = %+v, want none", st.Workers)
		}
	})
}

func TestElasticIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := start(t, clustertest.ProviderConfig{}, cluster.ElasticConfig{})
		res := allocate(t.Context(), v, 1, 0, nil)
		advance(batch + launchTime)
		a := granted(t, res)
		// A worker with an alloc is busy however long (the lease is an hour).
		advance(3 * idle)
		checkStats(t, v.p, "while the alloc lives", func(st clustertest.ProviderStats) bool { return st.Live == 1 })
		if err := a.Free(t.Context()); err != nil {
			t.Fatal(err)
		}
		advance(idle - poll)
		checkStats(t, v.p, "before the idle timeout", func(st clustertest.ProviderStats) bool { return st.Live == 1 })
		advance(2 * poll)
		checkStats(t, v.p, "after the idle timeout", func(st clustertest.ProviderStats) bool { return st.Live == 0 && st.Terminated == 1 })

		// The next request launches anew.
		res = allocate(t.Context(), v, 1, 0, nil)
		advance(batch + launchTime)
		granted(t, res)
		checkStats(t, v.p, "after a new request", func(st clustertest.ProviderStats) bool { return st.Launched == 2 })
	})
}

func TestElasticExpiredAllocIdles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := start(t, clustertest.ProviderConfig{Lease: time.Minute}, cluster.ElasticConfig{})
		res := allocate(t.Context(), v, 1, 0, nil)
		advance(batch + launchTime)
		granted(t, res) // and never kept alive
		advance(time.Minute + idle + poll)
		checkStats(t, v.p, "after the lease and the idle timeout", func(st clustertest.ProviderStats) bool { return st.Live == 0 })
	})
}

func TestElasticRunTerminatesEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := start(t, clustertest.ProviderConfig{}, cluster.ElasticConfig{MaxWorkers: 2})
		up := allocate(t.Context(), v, 4, 0, nil)
		advance(batch + launchTime)
		granted(t, up)
		launching := allocate(t.Context(), v, 4, 0, nil)
		advance(batch + launchTime/2)
		waitingRes := allocate(t.Context(), v, 4, 0, nil) // MaxWorkers reached
		synctest.Wait()

		if err := v.stop(); !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
		synctest.Wait()
		for _, c := range []<-chan result{launching, waitingRes} {
			if r := got(t, c); !errors.Is(r.err, ebb.ErrClosed) {
				t.Errorf("Allocate waiting when Run returned: %v, %v; want ErrClosed", r.a, r.err)
			}
		}
		checkStats(t, v.p, "after Run", func(st clustertest.ProviderStats) bool {
			return st.Live == 0 && st.Terminated == 1 && st.Cancelled == 1
		})
		if _, err := v.Allocate(t.Context(), ebb.Requirements{Min: cpu(1)}, nil); !errors.Is(err, ebb.ErrClosed) {
			t.Errorf("Allocate after Run: %v, want ErrClosed", err)
		}
		if err := v.Ready(t.Context()); !errors.Is(err, ebb.ErrClosed) {
			t.Errorf("Ready after Run: %v, want ErrClosed", err)
		}
		if err := v.Run(t.Context()); !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("second Run: %v, want ErrInvalid", err)
		}
	})
}

func TestElasticKeepWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := start(t, clustertest.ProviderConfig{}, cluster.ElasticConfig{KeepWorkers: true})
		res := allocate(t.Context(), v, 1, 0, nil)
		advance(batch + launchTime)
		a := granted(t, res)
		v.stop()
		checkStats(t, v.p, "after Run", func(st clustertest.ProviderStats) bool { return st.Live == 1 && st.Terminated == 0 })

		// The next Elastic over the provider adopts the worker, and the
		// alloc with it.
		e, err := cluster.NewElastic(cluster.ElasticConfig{Provider: v.p, IdleTimeout: idle, PollInterval: poll})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- e.Run(ctx) }()
		if err := e.Ready(t.Context()); err != nil {
			t.Fatal(err)
		}
		again, err := e.Alloc(t.Context(), a.ID())
		if err != nil {
			t.Fatalf("Alloc(%q) through the next Elastic: %v", a.ID(), err)
		}
		if !again.Resources().Equal(a.Resources()) {
			t.Errorf("re-attached alloc holds %v, want %v", again.Resources(), a.Resources())
		}
		if st := e.Status(); len(st.Workers) != 1 || !st.Workers[0].Adopted {
			t.Errorf("Status().Workers = %+v, want one adopted worker", st.Workers)
		}
		cancel()
		<-errc
		checkStats(t, v.p, "after the second Run", func(st clustertest.ProviderStats) bool { return st.Live == 0 })
	})
}

func TestElasticAdoptsIdleWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := start(t, clustertest.ProviderConfig{}, cluster.ElasticConfig{}, func(p *clustertest.Provider) { p.Add("four") })
		a, err := v.Allocate(t.Context(), ebb.Requirements{Min: cpu(2)}, nil)
		if err != nil {
			t.Fatalf("Allocate from the adopted worker: %v", err)
		}
		if workerOf(a) != "w1" {
			t.Errorf("alloc %s, want it on the adopted worker w1", a.ID())
		}
		if err := a.Free(t.Context()); err != nil {
			t.Fatal(err)
		}
		advance(idle + poll)
		checkStats(t, v.p, "after the idle timeout", func(st clustertest.ProviderStats) bool { return st.Launches == 0 && st.Live == 0 })
	})
}

func TestElasticDeadWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := start(t, clustertest.ProviderConfig{}, cluster.ElasticConfig{})
		res := allocate(t.Context(), v, 1, 0, nil)
		advance(batch + launchTime)
		a := granted(t, res)
		// The worker's pool stops answering (its node died), behind the
		// cluster's back.
		v.p.Pool(cluster.WorkerID(workerOf(a))).Close()
		if offers, err := v.Offers(t.Context()); err != nil || len(offers) != 0 {
			t.Errorf("Offers with the only worker dead = %v, %v; want none, no error", offers, err)
		}
		// A new request does not wait on the dead worker: it launches.
		res = allocate(t.Context(), v, 1, 0, nil)
		advance(batch + launchTime)
		b := granted(t, res)
		if workerOf(b) == workerOf(a) {
			t.Errorf("new alloc %s on the dead worker", b.ID())
		}
		// The dead worker counts as idle, and is terminated.
		advance(idle)
		for _, w := range v.Status().Workers {
			if string(w.ID) == workerOf(a) {
				t.Errorf("dead worker %s still held after the idle timeout", w.ID)
			}
		}
		checkStats(t, v.p, "at the end", func(st clustertest.ProviderStats) bool { return st.Terminated == 1 && st.Live == 1 })
	})
}

// TestElasticChurn runs many requests of random sizes, a third of them
// cancelled at random times, and allocs freed at random, and checks what
// must always hold: no worker holds more than its shape, the limits are
// kept, every request that was not cancelled is granted, and once every
// alloc is freed the workers go.
func TestElasticChurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const maxWorkers, maxPending = 5, 3
		eight := cluster.Shape{Name: "eight", Resources: cpu(8), Price: 2}
		v := start(t, clustertest.ProviderConfig{Shapes: []cluster.Shape{four, eight}},
			cluster.ElasticConfig{MaxWorkers: maxWorkers, MaxPending: maxPending})
		rng := rand.New(rand.NewPCG(1, 2))
		type call struct {
			res    <-chan result
			cancel context.CancelFunc
			doomed bool // to be cancelled
			done   bool
		}
		var (
			calls  []*call
			allocs []pool.Alloc // granted and not freed by the test
		)
		check := func(when string) {
			t.Helper()
			st := v.Status()
			if n := len(st.Workers) + len(st.Launching); n > maxWorkers {
				t.Fatalf("%s: %d workers and launches, MaxWorkers %d", when, n, maxWorkers)
			}
			if n := len(st.Launching); n > maxPending {
				t.Fatalf("%s: %d launches, MaxPending %d", when, n, maxPending)
			}
			held := make(map[string]ebb.Resources)
			for _, a := range allocs {
				if _, err := a.Inspect(t.Context()); err == nil {
					held[workerOf(a)] = held[workerOf(a)].Add(a.Resources())
				}
			}
			for w, r := range held {
				if !r.Fits(cpu(8)) {
					t.Fatalf("%s: worker %s holds %v", when, w, r)
				}
			}
		}
		collect := func() (waiting int) {
			for i, c := range calls {
				if c.done {
					continue
				}
				select {
				case r := <-c.res:
					c.done = true
					switch {
					case r.err == nil:
						allocs = append(allocs, r.a)
					case !c.doomed || !errors.Is(r.err, context.Canceled):
						t.Fatalf("request %d: %v", i, r.err)
					}
				default:
					waiting++
					if c.doomed && rng.IntN(2) == 0 {
						c.cancel()
					}
				}
			}
			return waiting
		}
		free := func(a pool.Alloc) {
			if err := a.Free(t.Context()); err != nil && !errors.Is(err, ebb.ErrExpired) {
				t.Fatalf("Free(%s): %v", a.ID(), err)
			}
		}
		for i := range 40 {
			ctx, cancel := context.WithCancel(t.Context())
			calls = append(calls, &call{
				res:    allocate(ctx, v, float64(1+rng.IntN(4)), rng.IntN(3), nil),
				cancel: cancel,
				doomed: rng.IntN(3) == 0,
			})
			advance(time.Duration(rng.IntN(20)) * time.Second)
			collect()
			check(fmt.Sprintf("after request %d", i))
			if len(allocs) > 0 && rng.IntN(2) == 0 {
				j := rng.IntN(len(allocs))
				free(allocs[j])
				allocs = slices.Delete(allocs, j, j+1)
			}
		}
		for step := 0; ; step++ {
			for _, a := range allocs {
				free(a)
			}
			allocs = nil
			advance(30 * time.Second)
			if collect() == 0 {
				break
			}
			check(fmt.Sprintf("at step %d of the drain", step))
			if step == 100 {
				t.Fatalf("requests still waiting after %d steps: %+v", step, v.Status())
			}
		}
		for _, a := range allocs {
			free(a)
		}
		allocs = nil
		advance(idle + 2*poll)
		if st := v.Status(); len(st.Workers) != 0 || len(st.Launching) != 0 || st.Waiting != 0 {
			t.Errorf("after every alloc was freed and the idle timeout: %+v, want nothing", st)
		}
		st := v.p.Stats()
		if st.Live != 0 || st.Launched == 0 {
			t.Errorf("provider stats %+v, want workers launched and none left", st)
		}
		t.Logf("provider stats %+v", st)
	})
}
