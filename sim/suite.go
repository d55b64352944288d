package sim

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// A Suite runs every workload under every policy on one cluster and
// gathers the results into a [Report].
type Suite struct {
	Workloads []*Workload
	Policies  []PolicySpec
	Cluster   Cluster
	// Seed seeds every run (see Config.Seed).
	Seed uint64
	// Timeline records each run's samples, for the capacity plots.
	Timeline bool
	// History is how many runs of each workload go before the one
	// measured, under the same policy instance and one Memory (see
	// Config.Memory), so that what the policy and the stealer learn
	// carries over, as on a cluster that runs the same pipeline every
	// night. Each run starts with nothing held: a stealer gives its
	// allocs back when its run ends. Run k of the history (from 0) is
	// seeded Seed+1+k; the measured run Seed, so that it meets the same
	// boot latencies and failures with or without a history.
	History int
	// HistoryJitter, when above zero, is how much a task's duration in a
	// run of the history differs from the measured run's: each is the
	// measured one times e^(HistoryJitter·z), z drawn from a standard
	// normal (within ±3) for each task and run, so that what the runs
	// before say of each task (stealer.Sizes) is only roughly true, as
	// when a pipeline's inputs change from one night to the next.
	// Zero: every run of the history is the measured one.
	HistoryJitter float64
	// Gap is the quiet time between the runs of a history: a run starts
	// Gap after the one before it ended, on the stealer's clock.
	Gap time.Duration
	// Parallel is how many runs go at once; default 1. Runs share
	// nothing, so the report does not depend on it.
	Parallel int
	// OnResult, when set, is called as each run ends, with the runs
	// done so far and in all; calls do not overlap.
	OnResult func(done, total int, r *Result)
	// OnProgress, when set, is passed on as each run's Config.Progress,
	// with the workload and policy names; calls may overlap when
	// Parallel is above 1.
	OnProgress func(workload, policy string, p Progress)
	// Log, when set, is passed on as each run's Config.Log, with the
	// run's place in the history ("run": 1 for the first of a history,
	// 0 for the one measured).
	Log *slog.Logger
}

// Run runs the suite. The report lists the results workload by workload,
// each in the order of Policies, whatever the parallelism. It stops at
// the first error (ctx's, a bad workload, a workload given twice (see
// [CheckDistinct]), a policy that cannot be made).
func (s Suite) Run(ctx context.Context) (*Report, error) {
	cl, err := s.Cluster.WithDefaults()
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	if err := CheckDistinct(s.Workloads); err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	rep := newReport(s.Seed, cl, s.Workloads)
	rep.History = max(0, s.History)
	if rep.History > 0 {
		rep.HistoryJitter = max(0, s.HistoryJitter)
	}
	total := len(s.Workloads) * len(s.Policies)
	rep.Results = make([]*Result, total)
	var (
		mu   sync.Mutex // serializes OnResult and counts done
		done int
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, s.Parallel))
	for j := range total {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			w, ps := s.Workloads[j/len(s.Policies)], s.Policies[j%len(s.Policies)]
			r, err := s.runOne(gctx, cl, w, ps)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			rep.Results[j] = r
			done++
			if s.OnResult != nil {
				s.OnResult(done, total, r)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return rep, nil
}

func (s Suite) runOne(ctx context.Context, cl Cluster, w *Workload, ps PolicySpec) (*Result, error) {
	p, err := ps.New(cl)
	if err != nil {
		return nil, fmt.Errorf("sim: policy %s: %w", ps.Name, err)
	}
	mem := &Memory{}
	for k := range max(0, s.History) {
		seed := s.Seed + 1 + uint64(k)
		cfg := Config{Workload: jittered(w, s.HistoryJitter, seed), Policy: p, PolicyName: ps.Name, Cluster: cl, Seed: seed, Memory: mem}
		if s.Log != nil {
			cfg.Log = s.Log.With("run", k+1)
		}
		if _, err := Run(ctx, cfg); err != nil {
			return nil, fmt.Errorf("sim: %s × %s, run %d of the history: %w", w.Name, ps.Name, k+1, err)
		}
		mem.Clock += max(0, s.Gap)
	}
	cfg := Config{Workload: w, Policy: p, PolicyName: ps.Name, Cluster: cl, Seed: s.Seed, Timeline: s.Timeline, Memory: mem}
	if s.Log != nil {
		cfg.Log = s.Log
		if s.History > 0 {
			cfg.Log = s.Log.With("run", 0)
		}
	}
	if s.OnProgress != nil {
		cfg.Progress = func(pr Progress) { s.OnProgress(w.Name, ps.Name, pr) }
	}
	return Run(ctx, cfg)
}

// jittered returns w with each task's duration times e^(sigma·z), z a
// standard normal within ±3 drawn from a stream of seed and w's name,
// task by task in order; w itself when sigma is not above zero. The
// tasks are copied, the rest of w shared.
func jittered(w *Workload, sigma float64, seed uint64) *Workload {
	if sigma <= 0 {
		return w
	}
	h := fnv.New64a()
	h.Write([]byte(w.Name))
	r := rand.New(rand.NewPCG(seed, h.Sum64()^0x68697374)) // "hist"
	c := *w
	c.Tasks = slices.Clone(w.Tasks)
	for i := range c.Tasks {
		z := max(-3, min(3, r.NormFloat64()))
		c.Tasks[i].Duration = time.Duration(float64(c.Tasks[i].Duration) * math.Exp(sigma*z))
	}
	return &c
}
