package dashboard

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool/local"
	"github.com/ebbflow/ebb/runner"
)

func noop(context.Context, ebb.FuncEnv) error { return nil }

// noopFlow returns n independent no-op Func tasks (as the runner's
// dispatch benchmark runs).
func noopFlow(n int) *ebb.Flow {
	flow := &ebb.Flow{Name: "noop", Tasks: make([]ebb.Task, n)}
	res := ebb.Resources{ebb.CPU: 0.001}
	for i := range flow.Tasks {
		name := fmt.Sprintf("t%07d", i)
		flow.Tasks[i] = ebb.Task{Name: name, Func: noop, FuncKey: name, Resources: res}
	}
	return flow
}

// BenchmarkDispatchViewers runs b.N independent no-op tasks through the
// Runner on the local pool, as runner's BenchmarkRunnerIndependent does:
// without a dashboard, with one that nobody watches, and with 10 viewers
// following its stream of views, made every 100 ms (five times as often
// as the default); and, for scale, with only a subscriber that takes the
// events and drops them (what the run's event bus costs by itself). What
// the viewers cost the run is the difference between 0 and 10.
func BenchmarkDispatchViewers(b *testing.B) {
	b.Run("none", func(b *testing.B) { benchDispatch(b, false, 0) })
	b.Run("bus", func(b *testing.B) { benchDispatch(b, false, -1) })
	for _, viewers := range []int{0, 10} {
		b.Run(fmt.Sprintf("viewers=%d", viewers), func(b *testing.B) { benchDispatch(b, true, viewers) })
	}
}

func benchDispatch(b *testing.B, dashboard bool, viewers int) {
	p, err := local.New(local.Config{Resources: ebb.Resources{ebb.CPU: 2, ebb.Mem: 4 << 30}})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	cfg := runner.Config{Flow: noopFlow(b.N), Cluster: cluster.NewStatic(p)}
	var views atomic.Int64
	var wg sync.WaitGroup
	var srv *httptest.Server
	ctx, cancel := context.WithCancel(b.Context())
	defer func() {
		// The viewers go first: the server's Close waits for them.
		cancel()
		wg.Wait()
		if srv != nil {
			srv.Close()
		}
	}()
	if dashboard || viewers < 0 {
		cfg.Events = runner.NewEventBus()
	}
	r, err := runner.New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	if viewers < 0 {
		sub := cfg.Events.Subscribe(1 << 14)
		defer sub.Close()
		wg.Go(func() {
			for {
				if _, err := sub.Next(ctx); err != nil {
					return
				}
			}
		})
	}
	if dashboard {
		src, err := NewRunSource(r, cfg)
		if err != nil {
			b.Fatal(err)
		}
		d, err := New(Config{Source: src, Interval: 100 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() { d.Run(ctx) })
		srv = httptest.NewServer(d)
		var attached sync.WaitGroup
		for range viewers {
			attached.Add(1)
			wg.Go(func() {
				once := sync.OnceFunc(attached.Done)
				defer once()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return
				}
				defer resp.Body.Close()
				lines := bufio.NewScanner(resp.Body)
				lines.Buffer(nil, 16<<20)
				for lines.Scan() {
					if len(lines.Bytes()) > 0 && lines.Bytes()[0] == 'd' {
						views.Add(1)
						once()
					}
				}
			})
		}
		attached.Wait()
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	if err := r.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
	// The process's CPU time, which the machine's other work does not
	// inflate as it does the wall time.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/task")
	if viewers > 0 {
		b.ReportMetric(float64(views.Load())/float64(viewers), "views/viewer")
	}
	if got := r.State().Result.Ran; got != b.N {
		b.Fatalf("ran %d tasks, want %d", got, b.N)
	}
}

// cpuTime returns the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
