// Package enginebench measures how quickly ebb puts work on a new worker
// of a real engine, and how quickly it gives the worker back: the figures
// of BENCHMARKS.md §3, for any cluster.Provider. The benchmarks of the
// provider packages (procs, slurm) call it.
//
// One Measure runs, on the provider:
//
//  1. a bare launch: Provider.Launch of one worker, then Terminate: what
//     the engine itself takes to start a worker that serves;
//  2. a run of two tasks on a primary alloc of one task's size, from this
//     machine's pool, with an Elastic over the provider as the auxiliary
//     cluster: task "hold" occupies the primary for Hold, so task "steal"
//     is demand from the moment "hold" starts, and runs on a new worker.
//     Both write the time they start (date +%s.%N); FirstSteal is the
//     difference;
//  3. while "hold" still runs, the worker that ran "steal" idles: the
//     stealer drains and frees its alloc after IdleTimeout, the Elastic
//     terminates the worker once it has no alloc for IdleTimeout. IdleToGone
//     is from the end of "steal" until the provider lists no worker.
//
// Predict checks the simulator against the same engine: it runs a mixed
// flow of a few tens of sleeping tasks for real, with the stealer's
// default policy buying workers, and in package sim with the default
// policy on a cluster of the same shapes whose workers boot as fast as a
// bare launch, and sets both makespans and auxiliary wastes side by side.
package enginebench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/repository"
	"github.com/ebbflow/ebb/runner"
	"github.com/ebbflow/ebb/stealer"
	"github.com/opencontainers/go-digest"
)

// Config says what Measure runs.
type Config struct {
	// Provider is the engine's provider; it must list no worker. Required.
	Provider cluster.Provider
	// Shape is the shape of the workers; it must hold Task.
	Shape cluster.Shape
	// Task is what each task holds. Default 1 cpu, 64 MiB.
	Task ebb.Resources
	// Dir holds the run's repository and pool. Required. The workers
	// share the repository when the provider was configured with
	// Dir/repository as theirs.
	Dir string
	// Hold is how long the task on the primary runs. Default 20 s: long
	// enough for the worker to be launched, run its task, idle out and
	// be terminated while it runs.
	Hold time.Duration
	// IdleTimeout is both the stealer's idle timeout for an alloc and the
	// Elastic's for a worker. Default 1 s.
	IdleTimeout time.Duration
	// Tick is the stealer's tick and the Elastic's poll interval. Default
	// 200 ms.
	Tick time.Duration
}

// Figures are what one Measure found.
type Figures struct {
	BareLaunch time.Duration // one Launch, alone
	FirstSteal time.Duration // demand appearing → the stolen task started on a new worker
	IdleToGone time.Duration // the stolen task done → the provider lists no worker
}

// Overhead is what ebb adds to the engine's launch: FirstSteal minus
// BareLaunch (target ≤ 1 s).
func (f Figures) Overhead() time.Duration { return f.FirstSteal - f.BareLaunch }

func (f Figures) String() string {
	return fmt.Sprintf("bare launch %v, first steal %v (overhead %v), idle to gone %v",
		f.BareLaunch.Round(time.Millisecond), f.FirstSteal.Round(time.Millisecond),
		f.Overhead().Round(time.Millisecond), f.IdleToGone.Round(time.Millisecond))
}

// RepositoryDir is where Measure keeps its repository under Config.Dir:
// give it to the provider's workers to share.
func RepositoryDir(dir string) string { return filepath.Join(dir, "repository") }

// Measure runs the three steps of the package doc once.
func Measure(ctx context.Context, cfg Config) (Figures, error) {
	var f Figures
	if cfg.Task == nil {
		cfg.Task = ebb.Resources{ebb.CPU: 1, ebb.Mem: 64 << 20}
	}
	if cfg.Hold == 0 {
		cfg.Hold = 20 * time.Second
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = time.Second
	}
	if cfg.Tick == 0 {
		cfg.Tick = 200 * time.Millisecond
	}

	// 1. A bare launch.
	var err error
	if f.BareLaunch, err = bareLaunch(ctx, cfg.Provider, cfg.Shape); err != nil {
		return f, err
	}

	// 2. A run whose second task is stolen onto a new worker.
	rg, err := newRig(ctx, cfg.Dir, cfg.Task, cluster.ElasticConfig{
		Provider: cfg.Provider, IdleTimeout: cfg.IdleTimeout, PollInterval: cfg.Tick, BatchWindow: time.Millisecond,
	})
	if err != nil {
		return f, err
	}
	defer rg.close()
	repo := rg.repo

	// The policy knows the tasks' duration and the engine's latency, as
	// a user who has seen the engine would tell it: then it buys a worker
	// for "steal" at once, since "hold" frees the primary only later.
	policy, err := stealer.NewDefault(stealer.DefaultConfig{IdleTimeout: cfg.IdleTimeout, TaskDuration: cfg.Hold, LatencyPrior: f.BareLaunch})
	if err != nil {
		return f, err
	}
	stamp := "date +%s.%N > started; "
	flow := &ebb.Flow{Name: "enginebench", Tasks: []ebb.Task{
		{Name: "hold", Argv: []string{"sh", "-c", stamp + "sleep " + strconv.FormatFloat(cfg.Hold.Seconds(), 'f', 3, 64)}, Outputs: []string{"started"}, Resources: cfg.Task},
		{Name: "steal", Argv: []string{"sh", "-c", stamp + "date +%s.%N > ended"}, Outputs: []string{"started", "ended"}, Resources: cfg.Task},
	}}
	r, err := runner.New(runner.Config{
		Flow: flow, Cluster: cluster.NewStatic(rg.machine), Repository: repo,
		Primary: ebb.Requirements{Min: cfg.Task},
		Aux:     rg.elastic,
		Steal:   runner.StealConfig{Policy: policy, Tick: cfg.Tick},
		Labels:  ebb.Labels{"bench": "steal"},
	}, nil)
	if err != nil {
		return f, err
	}
	// 3. Watch for the worker to be gone while the run goes on.
	gonec := make(chan time.Time, 1)
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() { gonec <- watchGone(watchCtx, cfg.Provider, cfg.Tick/10) }()
	if err := r.Run(ctx); err != nil {
		return f, fmt.Errorf("run: %w", err)
	}
	var gone time.Time
	select {
	case gone = <-gonec:
	case <-time.After(time.Minute):
		return f, fmt.Errorf("the worker was not gone a minute after the run ended")
	}
	outs := r.State().Result.Outputs
	held, err1 := readTime(ctx, repo, outs["hold/started"])
	stolen, err2 := readTime(ctx, repo, outs["steal/started"])
	ended, err3 := readTime(ctx, repo, outs["steal/ended"])
	if err := errors.Join(err1, err2, err3); err != nil {
		return f, err
	}
	f.FirstSteal = stolen.Sub(held)
	f.IdleToGone = gone.Sub(ended)
	return f, nil
}

// watchGone polls the provider's workers until one was seen and then none
// is left, and returns that moment; zero when ctx ends first.
func watchGone(ctx context.Context, p cluster.Provider, every time.Duration) time.Time {
	seen := false
	t := time.NewTicker(max(every, 5*time.Millisecond))
	defer t.Stop()
	for {
		ws, err := p.Workers(ctx)
		switch {
		case err != nil:
		case len(ws) > 0:
			seen = true
		case seen:
			return time.Now()
		}
		select {
		case <-ctx.Done():
			return time.Time{}
		case <-t.C:
		}
	}
}

// readTime reads a blob holding `date +%s.%N`.
func readTime(ctx context.Context, repo *repository.Dir, d digest.Digest) (time.Time, error) {
	rc, err := repo.Get(ctx, d)
	if err != nil {
		return time.Time{}, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return time.Time{}, err
	}
	return parseTime(string(b))
}

// Bench runs Measure b.N times, each time on a fresh provider that
// newProvider makes for a fresh directory (its workers share
// RepositoryDir(dir)) and closes, and reports the mean figures as the
// benchmark's metrics: bare-ms, steal-ms, overhead-ms, idle-gone-ms.
func Bench(b *testing.B, shape cluster.Shape, hold time.Duration, newProvider func(dir string) (p cluster.Provider, close func(), err error)) {
	var sum Figures
	for range b.N {
		dir := b.TempDir()
		p, closeProvider, err := newProvider(dir)
		if err != nil {
			b.Fatal(err)
		}
		f, err := Measure(context.Background(), Config{Provider: p, Shape: shape, Dir: dir, Hold: hold})
		closeProvider()
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("%v", f)
		sum.BareLaunch += f.BareLaunch
		sum.FirstSteal += f.FirstSteal
		sum.IdleToGone += f.IdleToGone
	}
	ms := func(d time.Duration) float64 { return float64(d.Milliseconds()) / float64(b.N) }
	b.ReportMetric(ms(sum.BareLaunch), "bare-ms")
	b.ReportMetric(ms(sum.FirstSteal), "steal-ms")
	b.ReportMetric(ms(sum.Overhead()), "overhead-ms")
	b.ReportMetric(ms(sum.IdleToGone), "idle-gone-ms")
	b.ReportMetric(0, "ns/op")
}
