package cluster_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/clustertest"
)

// newIdle makes an Elastic over a fake provider and does not run it.
func newIdle(t *testing.T) (*cluster.Elastic, *clustertest.Provider) {
	t.Helper()
	p := clustertest.NewProvider(clustertest.ProviderConfig{Shapes: []cluster.Shape{four}, LaunchTime: launchTime, Lease: time.Hour})
	t.Cleanup(func() { p.Close() })
	e, err := cluster.NewElastic(cluster.ElasticConfig{Provider: p, BatchWindow: batch, IdleTimeout: idle, PollInterval: poll})
	if err != nil {
		t.Fatal(err)
	}
	return e, p
}

func TestElasticAllocateWithoutRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, p := newIdle(t)
		res := allocate(t.Context(), e, 1, 0, nil)
		advance(5*time.Second - time.Millisecond)
		waiting(t, res, "before RunWait (default 5 s) is over")
		advance(time.Millisecond)
		r := got(t, res)
		if !errors.Is(r.err, ebb.ErrNotRunning) || !strings.Contains(fmtErr(r.err), "go elastic.Run(ctx)") {
			t.Errorf("Allocate on an Elastic never run = %v, %v; want an error wrapping ebb.ErrNotRunning that says to start Run", r.a, r.err)
		}
		checkStats(t, p, "after an Allocate without Run", func(st clustertest.ProviderStats) bool { return st.Launches == 0 })
		if st := e.Status(); st.Waiting != 0 {
			t.Errorf("Status() = %+v, want nothing waiting", st)
		}
	})
}

func TestElasticAllocateBeforeRunStarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, _ := newIdle(t)
		res := allocate(t.Context(), e, 1, 0, nil)
		advance(batch / 2)
		ctx, cancel := context.WithCancel(context.Background())
		runc := make(chan error, 1)
		go func() { runc <- e.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-runc; !errors.Is(err, context.Canceled) {
				t.Errorf("Run = %v, want context.Canceled", err)
			}
		}()
		advance(batch + launchTime)
		if r := got(t, res); r.err != nil {
			t.Errorf("Allocate called %v before Run started = %v, want an alloc", batch/2, r.err)
		}
	})
}

func TestElasticAllocateCancelledBeforeRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, _ := newIdle(t)
		ctx, cancel := context.WithCancel(t.Context())
		res := allocate(ctx, e, 1, 0, nil)
		synctest.Wait()
		cancel()
		synctest.Wait()
		if r := got(t, res); !errors.Is(r.err, context.Canceled) {
			t.Errorf("Allocate cancelled while waiting for Run = %v, %v; want context.Canceled", r.a, r.err)
		}
	})
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
