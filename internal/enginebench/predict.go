package enginebench

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/runner"
	"github.com/ebbflow/ebb/sim"
	"github.com/ebbflow/ebb/stealer"
)

// PredictConfig says what Predict runs.
type PredictConfig struct {
	// Provider is the engine's provider; it must list no worker. Required.
	Provider cluster.Provider
	// Shape is the shape of the workers; it must hold Task.
	Shape cluster.Shape
	// Primary is what the primary alloc holds. Default Shape.Resources.
	Primary ebb.Resources
	// Task is what each task holds. Default 1 cpu, 64 MiB.
	Task ebb.Resources
	// Dir holds the run's repository, pool and the tasks' marks.
	// Required. The workers share the repository when the provider was
	// configured with RepositoryDir(Dir) as theirs.
	Dir string
	// Seed seeds the task durations and the simulator's draws.
	Seed uint64
	// MaxWorkers caps the workers, real and simulated. Default 4.
	MaxWorkers int
	// IdleTimeout is how long the Elastic keeps a worker without allocs.
	// Default 1 s, so that workers are gone soon after the run.
	IdleTimeout time.Duration
	// Tick is the stealer's tick, real and simulated. Default 1 s, the
	// stealer's own default.
	Tick time.Duration
}

// An Outcome is what one run of the mixed workload measured, real or
// simulated. Resource-minutes are cpu-minutes, as in sim.Metrics.
type Outcome struct {
	// Makespan is from the start of the first task to the end of the
	// last.
	Makespan time.Duration
	// Allocated is what the auxiliary allocs held, from grant to
	// release, plus the boots of their workers (as the simulator bills
	// them); Boot is that part. Busy is what the tasks run on them held
	// while they ran.
	Allocated, Boot, Busy float64
	// Allocs counts the auxiliary allocs granted, and Latency is their
	// mean time from request to grant: the worker's boot, and what the
	// stealer and the cluster add to it. Latency is measured in real
	// runs only: a simulated worker boots in Prediction.BareLaunch.
	Allocs  int
	Latency time.Duration
}

// Waste is the auxiliary cpu-minutes held and not used by a task:
// Allocated − Busy (sim.Metrics.Waste).
func (o Outcome) Waste() float64 { return o.Allocated - o.Busy }

func (o Outcome) String() string {
	granted := ""
	if o.Latency > 0 {
		granted = fmt.Sprintf(" granted in %v on average", o.Latency.Round(time.Millisecond))
	}
	return fmt.Sprintf("makespan %v, waste %.3f cpu-min (allocated %.3f, boot %.3f, busy %.3f, %d allocs%s)",
		o.Makespan.Round(time.Millisecond), o.Waste(), o.Allocated, o.Boot, o.Busy, o.Allocs, granted)
}

// A Prediction sets the simulator's outcome of the mixed workload beside
// the real one, the simulated workers booting in the bare launch time
// measured on the same provider (Sim), and again booting in the real
// run's mean latency from request to grant (SimGrant): the launch plus
// what the Elastic (its batch window) and the worker's Allocate add, which
// the bare launch leaves out.
type Prediction struct {
	BareLaunch          time.Duration
	Real, Sim, SimGrant Outcome
}

// Ratio is the simulated makespan over the real one.
func (p Prediction) Ratio() float64 { return p.Sim.Makespan.Seconds() / p.Real.Makespan.Seconds() }

func (p Prediction) String() string {
	return fmt.Sprintf("bare launch %v; real: %v; sim: %v; sim/real makespan %.2f; sim booting in the real grant latency: %v",
		p.BareLaunch.Round(time.Millisecond), p.Real, p.Sim, p.Ratio(), p.SimGrant)
}

// Predict runs the mixed workload (see mixed) for real on the provider,
// with a primary from this machine's pool, an Elastic over the provider as
// the auxiliary cluster and the stealer's default policy; then runs the
// same workload in the simulator with the default policy, on a cluster of
// the same primary, worker shape, worker cap and tick, whose workers boot
// in the time one bare launch took on the provider just before.
func Predict(ctx context.Context, cfg PredictConfig) (Prediction, error) {
	var p Prediction
	if cfg.Task == nil {
		cfg.Task = ebb.Resources{ebb.CPU: 1, ebb.Mem: 64 << 20}
	}
	if cfg.Primary == nil {
		cfg.Primary = cfg.Shape.Resources
	}
	if cfg.MaxWorkers == 0 {
		cfg.MaxWorkers = 4
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = time.Second
	}
	if cfg.Tick == 0 {
		cfg.Tick = time.Second
	}
	steps := mixed(cfg.Seed, cfg.Task)

	var err error
	if p.BareLaunch, err = bareLaunch(ctx, cfg.Provider, cfg.Shape); err != nil {
		return p, err
	}
	if p.Real, err = predictReal(ctx, cfg, steps); err != nil {
		return p, err
	}
	if p.Sim, err = predictSim(ctx, cfg, steps, p.BareLaunch); err != nil {
		return p, err
	}
	p.SimGrant, err = predictSim(ctx, cfg, steps, cmp.Or(p.Real.Latency, p.BareLaunch))
	return p, err
}

// predictReal runs steps as a flow on the provider and measures it from
// the tasks' marks and the stealer's events.
func predictReal(ctx context.Context, cfg PredictConfig, steps []step) (Outcome, error) {
	provider := &launchLog{Provider: cfg.Provider}
	rg, err := newRig(ctx, cfg.Dir, cfg.Primary, cluster.ElasticConfig{
		Provider: provider, MaxWorkers: cfg.MaxWorkers, IdleTimeout: cfg.IdleTimeout,
	})
	if err != nil {
		return Outcome{}, err
	}
	defer rg.close()
	marks := filepath.Join(cfg.Dir, "marks")
	flow, err := mixedFlow(steps, marks)
	if err != nil {
		return Outcome{}, err
	}
	var mu sync.Mutex
	var events []stealer.Event
	r, err := runner.New(runner.Config{
		Flow: flow, Cluster: cluster.NewStatic(rg.machine), Repository: rg.repo,
		Primary: ebb.Requirements{Min: cfg.Primary},
		Aux:     rg.elastic,
		Steal: runner.StealConfig{Tick: cfg.Tick, OnEvent: func(e stealer.Event) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}},
		Labels: ebb.Labels{"bench": "predict"},
	}, nil)
	if err != nil {
		return Outcome{}, err
	}
	if err := r.Run(ctx); err != nil {
		return Outcome{}, fmt.Errorf("run: %w", err)
	}
	ms, err := readMarks(steps, marks, filepath.Join(cfg.Dir, "pool"))
	if err != nil {
		return Outcome{}, err
	}
	mu.Lock()
	defer mu.Unlock()
	return realOutcome(steps, ms, events, provider.done(), time.Now()), nil
}

// predictSim runs steps in the simulator, its workers booting in boot.
func predictSim(ctx context.Context, cfg PredictConfig, steps []step, boot time.Duration) (Outcome, error) {
	cl, err := sim.Cluster{
		Primary:    cfg.Primary,
		Shapes:     []ebb.Resources{cfg.Shape.Resources},
		Boot:       sim.Dist{Kind: sim.Fixed, A: boot},
		MaxWorkers: cfg.MaxWorkers,
		Tick:       cfg.Tick,
	}.WithDefaults()
	if err != nil {
		return Outcome{}, err
	}
	spec, err := sim.ParsePolicy("default")
	if err != nil {
		return Outcome{}, err
	}
	policy, err := spec.New(cl)
	if err != nil {
		return Outcome{}, err
	}
	res, err := sim.Run(ctx, sim.Config{Workload: mixedWorkload(steps), Policy: policy, PolicyName: spec.Name, Cluster: cl, Seed: cfg.Seed})
	if err != nil {
		return Outcome{}, err
	}
	m := res.Metrics
	if m.Stalled != "" {
		return Outcome{}, fmt.Errorf("simulation stalled: %s", m.Stalled)
	}
	return Outcome{
		Makespan:  time.Duration(m.Makespan * float64(time.Second)),
		Allocated: m.Allocated + m.WasteBoot,
		Boot:      m.WasteBoot,
		Busy:      m.BusyAux,
		Allocs:    m.Acquisitions,
	}, nil
}

// BenchPredict runs Predict b.N times, each time on a fresh provider that
// newProvider makes for a fresh directory (its workers share
// RepositoryDir(dir)) and closes, the i-th with seed i, and reports the
// means as the benchmark's metrics: real-makespan-s, sim-makespan-s,
// real-waste-cpu-min, sim-waste-cpu-min, ratio (sim over real makespan),
// and sim-grant-makespan-s (the simulator's, booting in the real grant
// latency).
func BenchPredict(b *testing.B, shape cluster.Shape, newProvider func(dir string) (p cluster.Provider, close func(), err error)) {
	var realSpan, simSpan, grantSpan time.Duration
	var realWaste, simWaste float64
	for i := range b.N {
		dir := b.TempDir()
		p, closeProvider, err := newProvider(dir)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		pr, err := Predict(ctx, PredictConfig{Provider: p, Shape: shape, Dir: dir, Seed: uint64(i)})
		cancel()
		closeProvider()
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("%v", pr)
		fmt.Printf("predict: makespan real %6.2f s, sim %6.2f s (ratio %.2f); waste real %.3f cpu-min, sim %.3f cpu-min; boot %v (grant %v: sim %6.2f s, %.3f cpu-min)\n",
			pr.Real.Makespan.Seconds(), pr.Sim.Makespan.Seconds(), pr.Ratio(), pr.Real.Waste(), pr.Sim.Waste(), pr.BareLaunch.Round(time.Millisecond),
			pr.Real.Latency.Round(time.Millisecond), pr.SimGrant.Makespan.Seconds(), pr.SimGrant.Waste())
		realSpan += pr.Real.Makespan
		simSpan += pr.Sim.Makespan
		grantSpan += pr.SimGrant.Makespan
		realWaste += pr.Real.Waste()
		simWaste += pr.Sim.Waste()
	}
	n := float64(b.N)
	b.ReportMetric(realSpan.Seconds()/n, "real-makespan-s")
	b.ReportMetric(simSpan.Seconds()/n, "sim-makespan-s")
	b.ReportMetric(realWaste/n, "real-waste-cpu-min")
	b.ReportMetric(simWaste/n, "sim-waste-cpu-min")
	b.ReportMetric(simSpan.Seconds()/realSpan.Seconds(), "ratio")
	b.ReportMetric(grantSpan.Seconds()/n, "sim-grant-makespan-s")
	b.ReportMetric(0, "ns/op")
}

// A step is one task of the mixed workload, as both the flow and the
// simulated workload hold it.
type step struct {
	name, kind string
	dur        time.Duration
	res        ebb.Resources
	deps       []int // indices of earlier steps
}

// mixed returns the mixed workload: a setup task of 1 s, then a fan-out
// of 16 "short" tasks of about 2 s and 8 "long" ones of about 6 s,
// interleaved, each drawn ±20 % from a generator seeded with seed, then a
// merge of 1 s after all of them. Every task holds res.
func mixed(seed uint64, res ebb.Resources) []step {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	draw := func(d time.Duration) time.Duration {
		return time.Duration(float64(d) * (0.8 + 0.4*rng.Float64())).Round(time.Millisecond)
	}
	steps := []step{{name: "setup", kind: "setup", dur: time.Second, res: res}}
	var fan []int
	for i := range 24 {
		s := step{name: fmt.Sprintf("short-%02d", i), kind: "short", dur: draw(2 * time.Second), res: res, deps: []int{0}}
		if i%3 == 2 {
			s.name, s.kind, s.dur = fmt.Sprintf("long-%02d", i), "long", draw(6*time.Second)
		}
		fan = append(fan, len(steps))
		steps = append(steps, s)
	}
	return append(steps, step{name: "merge", kind: "merge", dur: time.Second, res: res, deps: fan})
}

// mixedFlow returns steps as a flow: each task sleeps its duration, and
// writes to marks/NAME the time it starts, its work directory (to tell
// where it ran) and the time it ends.
func mixedFlow(steps []step, marks string) (*ebb.Flow, error) {
	if err := mkdir(marks); err != nil {
		return nil, err
	}
	flow := &ebb.Flow{Name: "enginebench-predict"}
	for _, s := range steps {
		m := strconv.Quote(filepath.Join(marks, s.name))
		script := "date +%s.%N > " + m + "; pwd >> " + m + "; sleep " +
			strconv.FormatFloat(s.dur.Seconds(), 'f', 3, 64) + "; date +%s.%N >> " + m
		t := ebb.Task{Name: s.name, Kind: s.kind, Argv: []string{"sh", "-c", script}, Resources: s.res.Clone()}
		for _, d := range s.deps {
			t.After = append(t.After, steps[d].name)
		}
		flow.Tasks = append(flow.Tasks, t)
	}
	return flow, nil
}

// mixedWorkload returns steps as a simulated workload: every task
// arrives at 0 and waits for its deps.
func mixedWorkload(steps []step) *sim.Workload {
	w := &sim.Workload{Name: "enginebench-predict"}
	for _, s := range steps {
		w.Tasks = append(w.Tasks, sim.Task{ID: s.name, Kind: s.kind, Duration: s.dur, Resources: s.res.Clone(), Deps: append([]int(nil), s.deps...)})
	}
	return w
}
