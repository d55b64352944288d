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
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
)

const (
	batch      = 100 * time.Millisecond
	launchTime = time.Minute
	idle       = 5 * time.Minute
	poll       = time.Minute
)

var four = cluster.Shape{Name: "four", Resources: cpu(4), Price: 1}

// elastic is an Elastic under test, running, over a fake provider.
type elastic struct {
	*cluster.Elastic
	p      *clustertest.Provider
	cancel context.CancelFunc
	errc   chan error
}

// start makes and runs an Elastic over a fake provider made from pcfg, with
// the test's defaults for the zero fields of ecfg, and stops it when the
// test ends. Call it in a synctest bubble.
func start(t *testing.T, pcfg clustertest.ProviderConfig, ecfg cluster.ElasticConfig, before ...func(*clustertest.Provider)) *elastic {
	t.Helper()
	if pcfg.Shapes == nil {
		pcfg.Shapes = []cluster.Shape{four}
	}
	if pcfg.LaunchTime == 0 {
		pcfg.LaunchTime = launchTime
	}
	if pcfg.Lease == 0 {
		pcfg.Lease = time.Hour
	}
	p := clustertest.NewProvider(pcfg)
	for _, f := range before {
		f(p)
	}
	ecfg.Provider = p
	if ecfg.BatchWindow == 0 {
		ecfg.BatchWindow = batch
	}
	if ecfg.IdleTimeout == 0 {
		ecfg.IdleTimeout = idle
	}
	if ecfg.PollInterval == 0 {
		ecfg.PollInterval = poll
	}
	e, err := cluster.NewElastic(ecfg)
	if err != nil {
		t.Fatalf("NewElastic: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	v := &elastic{Elastic: e, p: p, cancel: cancel, errc: make(chan error, 1)}
	go func() { v.errc <- e.Run(ctx) }()
	t.Cleanup(func() {
		v.stop()
		p.Close()
	})
	if err := e.Ready(t.Context()); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	return v
}

// stop cancels Run and returns what it returned; a second stop returns nil.
func (v *elastic) stop() error {
	v.cancel()
	err, ok := <-v.errc
	if ok {
		close(v.errc)
	}
	return err
}

type result struct {
	a   pool.Alloc
	err error
}

// allocate calls Allocate in a goroutine.
func allocate(ctx context.Context, c cluster.Cluster, min float64, width int, labels ebb.Labels) <-chan result {
	c2 := make(chan result, 1)
	go func() {
		a, err := c.Allocate(ctx, ebb.Requirements{Min: cpu(min), Width: width}, labels)
		c2 <- result{a, err}
	}()
	return c2
}

// advance moves the fake clock on by d and lets everything due happen.
func advance(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// got returns the result of an Allocate that must have returned.
func got(t *testing.T, c <-chan result) result {
	t.Helper()
	select {
	case r := <-c:
		return r
	default:
		t.Fatal("Allocate has not returned")
		return result{}
	}
}

// granted returns the alloc of an Allocate that must have succeeded.
func granted(t *testing.T, c <-chan result) pool.Alloc {
	t.Helper()
	r := got(t, c)
	if r.err != nil {
		t.Fatalf("Allocate: %v", r.err)
	}
	return r.a
}

// waiting fails the test unless the Allocate is still waiting.
func waiting(t *testing.T, c <-chan result, when string) {
	t.Helper()
	select {
	case r := <-c:
		t.Fatalf("%s: Allocate returned %v, %v; want it waiting", when, r.a, r.err)
	default:
	}
}

// split returns the allocs of the Allocates that returned (all must have
// succeeded) and the results of those still waiting.
func split(t *testing.T, results []<-chan result) (allocs []pool.Alloc, waiting []<-chan result) {
	t.Helper()
	for _, c := range results {
		select {
		case r := <-c:
			if r.err != nil {
				t.Fatalf("Allocate: %v", r.err)
			}
			allocs = append(allocs, r.a)
		default:
			waiting = append(waiting, c)
		}
	}
	return allocs, waiting
}

func workerOf(a pool.Alloc) string {
	w, _, _ := strings.Cut(a.ID(), "/")
	return w
}

func checkStats(t *testing.T, p *clustertest.Provider, when string, check func(clustertest.ProviderStats) bool) {
	t.Helper()
	if st := p.Stats(); !check(st) {
		t.Errorf("%s: provider stats %+v", when, st)
	}
}

func TestElasticBurstBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := start(t, clustertest.ProviderConfig{}, cluster.ElasticConfig{})
		var results []<-chan result
		for range 10 {
			results = append(results, allocate(t.Context(), v, 1, 0, nil))
		}
		synctest.Wait()
		checkStats(t, v.p, "within the batch window", func(st clustertest.ProviderStats) bool { return st.Launches == 0 })
		if got := v.Status().Waiting; got != 10 {
			t.Errorf("Status().Waiting = %d, want 10", got)
		}

		advance(batch)
		checkStats(t, v.p, "after the batch window", func(st clustertest.ProviderStats) bool { return st.Launches == 3 })
		claims := 0
		for _, l := range v.Status().Launching {
			claims += l.Claims
		}
		if claims != 10 {
			t.Errorf("launches claimed by %d requests, want 10: %+v", claims, v.Status().Launching)
		}

		advance(launchTime)
		perWorker := make(map[string]int)
		for _, c := range results {
			a := granted(t, c)
			perWorker[workerOf(a)]++
			if !a.Resources().Equal(cpu(1)) {
				t.Errorf("alloc %s holds %v, want 1 cpu", a.ID(), a.Resources())
			}
		}
		if len(perWorker) != 3 {
			t.Errorf("allocs per worker = %v, want 3 workers", perWorker)
		}
		checkStats(t, v.p, "after the launches", func(st clustertest.ProviderStats) bool { return st.Launched == 3 && st.Launches == 3 })
	})
}

func TestElasticJoinsLaunchInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := start(t, clustertest.ProviderConfig{}, cluster.ElasticConfig{})
		first := allocate(t.Context(), v, 1, 0, nil)
		advance(batch)
		checkStats(t, v.p, "after the first request", func(st clustertest.ProviderStats) bool { return st.Launches == 1 })

		advance(launchTime / 2)
		second := allocate(t.Context(), v, 2, 0, nil)
		advance(batch)
		checkStats(t, v.p, "after a second request that fits the launch in flight", func(st clustertest.ProviderStats) bool { return st.Launches == 1 })
		if l := v.Status().Launching; len(l) != 1 || l[0].Claims != 2 {
			t.Errorf("Status().Launching = %+v, want one launch claimed twice", l)
		}
		third := allocate(t.Context(), v, 2, 0, nil)
		advance(batch)
		checkStats(t, v.p, "after a third request that does not fit", func(st clustertest.ProviderStats) bool { return st.Launches == 2 })

		advance(launchTime)
		a1, a2, a3 := granted(t, first), granted(t, second), granted(t, third)
		if workerOf(a1) != workerOf(a2) || workerOf(a1) == workerOf(a3) {
			t.Errorf("allocs on workers %s, %s, %s; want the first two on one worker, the third on another", workerOf(a1), workerOf(a2), workerOf(a3))
		}
	})
}

// A request trying the worker launched for it is not planned again while
// its Accept is in flight, however slow the worker answers.
func TestElasticSlowAcceptLaunchesOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slow := 10 * batch
		v := start(t, clustertest.ProviderConfig{Delays: map[pooltest.Op]time.Duration{pooltest.OpAccept: slow}}, cluster.ElasticConfig{})
		first := allocate(t.Context(), v, 1, 0, nil)
		advance(batch + launchTime + slow/2)
		waiting(t, first, "while the new worker's Accept is in flight")
		checkStats(t, v.p, "while the new worker's Accept is in flight", func(st clustertest.ProviderStats) bool { return st.Launches == 1 })
		advance(slow)
		granted(t, first)
		checkStats(t, v.p, "once granted", func(st clustertest.ProviderStats) bool { return st.Launches == 1 })
	})
}

func TestElasticTakesExistingWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := start(t, clustertest.ProviderConfig{}, cluster.ElasticConfig{})
		first := allocate(t.Context(), v, 1, 0, nil)
		advance(batch + launchTime)
		a1 := granted(t, first)
		// There is room left on the worker: no launch, no wait.
		a2, err := v.Allocate(t.Context(), ebb.Requirements{Min: cpu(3)}, nil)
		if err != nil {
			t.Fatalf("second Allocate: %v", err)
		}
		if workerOf(a2) != workerOf(a1) {
			t.Errorf("second alloc on worker %s, want %s", workerOf(a2), workerOf(a1))
		}
		checkStats(t, v.p, "after two allocs", func(st clustertest.ProviderStats) bool { return st.Launches == 1 })
	})
}

func TestElasticWidth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eight := cluster.Shape{Name: "eight", Resources: cpu(8), Price: 2}
		v := start(t, clustertest.ProviderConfig{Shapes: []cluster.Shape{four, eight}}, cluster.ElasticConfig{})
		wide := allocate(t.Context(), v, 2, 3, nil) // Max 6: the eight
		synctest.Wait()
		narrow := allocate(t.Context(), v, 2, 0, nil) // the spare room
		advance(batch + launchTime)
		a, b := granted(t, wide), granted(t, narrow)
		if !a.Resources().Equal(cpu(6)) || !b.Resources().Equal(cpu(2)) || workerOf(a) != workerOf(b) {
			t.Errorf("allocs %s of %v and %s of %v; want 6 and 2 cpu on one worker", a.ID(), a.Resources(), b.ID(), b.Resources())
		}
		checkStats(t, v.p, "", func(st clustertest.ProviderStats) bool { return st.Shapes["eight"] == 1 && st.Launches == 1 })
	})
}

func TestElasticLaunchLabels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := start(t, clustertest.ProviderConfig{}, cluster.ElasticConfig{Labels: ebb.Labels{"cluster": "c1"}})
		r1 := allocate(t.Context(), v, 1, 0, ebb.Labels{"run": "r1", "task": "a"})
		r2 := allocate(t.Context(), v, 1, 0, ebb.Labels{"run": "r1", "task": "b"})
		advance(batch + launchTime)
		a := granted(t, r1)
		granted(t, r2)
		ws, _ := v.p.Workers(t.Context())
		if len(ws) != 1 || ws[0].Labels.String() != "cluster=c1,run=r1" {
			t.Errorf("workers %+v, want one launched with cluster=c1,run=r1", ws)
		}
		in, err := a.Inspect(t.Context())
		if err != nil || in.Meta.Labels.String() != "run=r1,task=a" {
			t.Errorf("alloc labels %v, %v; want the request's", in.Meta.Labels, err)
		}
	})
}

func TestElasticPoolView(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := start(t, clustertest.ProviderConfig{}, cluster.ElasticConfig{ID: "view", Allocator: pool.Allocator{Owner: "me"}})
		caps, err := v.Capacity(t.Context())
		if err != nil || len(caps) != 1 || !caps[0].Equal(cpu(4)) {
			t.Errorf("Capacity before any worker = %v, %v; want the shape", caps, err)
		}
		if sizes := v.Sizes(); len(sizes) != 1 || !sizes[0].Equal(cpu(4)) {
			t.Errorf("Sizes = %v, want the shape", sizes)
		}
		res := allocate(t.Context(), v, 1, 0, nil)
		advance(batch + launchTime)
		a := granted(t, res)
		if a.Pool() != pool.Pool(v.Elastic) {
			t.Errorf("alloc's Pool is %v, want the Elastic", a.Pool())
		}
		in, err := a.Inspect(t.Context())
		if err != nil || in.ID != a.ID() || in.Pool != "view" || in.Meta.Owner != "me" {
			t.Errorf("Inspect = %+v, %v; want ID %s, pool view, owner me", in, err, a.ID())
		}
		offers, err := v.Offers(t.Context())
		if err != nil || len(offers) != 1 || !offers[0].Available().Equal(cpu(3)) || !strings.HasPrefix(offers[0].ID(), "w1/") {
			t.Errorf("Offers = %v, %v; want w1's offer of 3 cpu", offers, err)
		}
		caps, _ = v.Capacity(t.Context())
		if len(caps) != 1 {
			t.Errorf("Capacity with a worker of the only shape = %v, want just the worker", caps)
		}
		again, err := v.Alloc(t.Context(), a.ID())
		if err != nil || again.ID() != a.ID() {
			t.Errorf("Alloc(%q) = %v, %v", a.ID(), again, err)
		}
		for _, id := range []string{"w9/x", "nope", "w1/nope"} {
			if _, err := v.Alloc(t.Context(), id); !errors.Is(err, ebb.ErrNotExist) {
				t.Errorf("Alloc(%q): %v, want ErrNotExist", id, err)
			}
		}
	})
}

func TestElasticBadInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := start(t, clustertest.ProviderConfig{}, cluster.ElasticConfig{})
		for _, tt := range []struct {
			req    ebb.Requirements
			labels ebb.Labels
			want   error
		}{
			{ebb.Requirements{Min: cpu(-1)}, nil, ebb.ErrInvalid},
			{ebb.Requirements{Min: cpu(1), Width: -1}, nil, ebb.ErrInvalid},
			{ebb.Requirements{Min: cpu(1)}, ebb.Labels{"": "x"}, ebb.ErrInvalid},
			{ebb.Requirements{Min: cpu(5)}, nil, ebb.ErrResources},
			{ebb.Requirements{Min: ebb.Resources{ebb.GPU: 1}}, nil, ebb.ErrResources},
		} {
			if _, err := v.Allocate(t.Context(), tt.req, tt.labels); !errors.Is(err, tt.want) {
				t.Errorf("Allocate(%v, %v): %v, want %v", tt.req, tt.labels, err, tt.want)
			}
		}
		checkStats(t, v.p, "after bad requests", func(st clustertest.ProviderStats) bool { return st.Launches == 0 })
	})
}

func TestNewElasticInvalid(t *testing.T) {
	p := clustertest.NewProvider(clustertest.ProviderConfig{})
	defer p.Close()
	dup := clustertest.NewProvider(clustertest.ProviderConfig{Shapes: []cluster.Shape{four, four}})
	defer dup.Close()
	for _, tt := range []struct {
		name string
		cfg  cluster.ElasticConfig
		want string
	}{
		{"no provider", cluster.ElasticConfig{}, "Provider"},
		{"negative MaxWorkers", cluster.ElasticConfig{Provider: p, MaxWorkers: -1}, "MaxWorkers -1"},
		{"negative MaxPending", cluster.ElasticConfig{Provider: p, MaxPending: -2}, "MaxPending -2"},
		{"negative IdleTimeout", cluster.ElasticConfig{Provider: p, IdleTimeout: -time.Second}, "IdleTimeout -1s"},
		{"negative CostCap", cluster.ElasticConfig{Provider: p, CostCap: -1}, "CostCap -1"},
		{"backoff upside down", cluster.ElasticConfig{Provider: p, BackoffMin: time.Minute, BackoffMax: time.Second}, "BackoffMax 1s"},
		{"bad labels", cluster.ElasticConfig{Provider: p, Labels: ebb.Labels{"a,b": "c"}}, "Labels"},
		{"two shapes with one name", cluster.ElasticConfig{Provider: dup}, `two shapes named "four"`},
	} {
		_, err := cluster.NewElastic(tt.cfg)
		if !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: NewElastic: %v, want ErrInvalid naming %q", tt.name, err, tt.want)
		}
	}
}
