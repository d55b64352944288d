package sim

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"

	"github.com/ebbflow/ebb"
)

// StdConfig sizes the standard workloads of [Standard].
type StdConfig struct {
	// Tasks is how many tasks the workload has (about, for diurnal,
	// whose count is drawn). Zero takes the workload's default.
	Tasks int
	// Seed seeds the generator; each workload mixes in its own name, so
	// the five differ under one seed.
	Seed uint64
	// PrimaryCPU is the primary's cpu, which the trickle workload's
	// arrival rate follows. Default 8.
	PrimaryCPU float64
}

// StandardNames returns the names of the standard workloads: the five of
// BENCHMARKS.md §2, in their order there, then mixed.
func StandardNames() []string {
	return []string{"burst", "staged", "diurnal", "heavytail", "trickle", "mixed"}
}

// Standard returns the standard workload called name (see StandardNames),
// generated from cfg. The same cfg always gives the same workload.
//
//   - burst: 1,000 tasks at t=0, durations lognormal (median 60 s, σ 0.6);
//     75 % need cpu=1,mem=2GiB, 20 % twice that, 5 % four times.
//   - staged: 5 stages of 200 tasks (median 30 s, σ 0.4, cpu=1,mem=2GiB);
//     between two stages a serial gather task of 2 min that depends on
//     every task of the stage before and that the next stage depends on:
//     bursts of work with idle gaps between them.
//   - diurnal: about 2,000 tasks (median 60 s, σ 0.5) arriving as a
//     Poisson process whose rate follows a day compressed to 2 h: from a
//     tenth of the mean at midnight to 1.9 times it at noon.
//   - heavytail: 1,000 tasks at t=0 (median 30 s, σ 0.3), of which 1 %
//     run 100 times longer.
//   - trickle: 1,000 tasks (median 60 s, σ 0.3, cpu=1) arriving as a
//     Poisson process at 1.1 times what the primary can absorb: the
//     thrash probe.
//   - mixed: about 1,000 tasks at t=0 in groups of about 50: each group a
//     short setup task (kind "setup", median 10 s), fanning out to long
//     tasks of three kinds whose durations are spread widely, lognormal
//     with σ 0.5: "short" (60 %, median 30 s, cpu=1,mem=2GiB), "medium"
//     (30 %, median 5 min, cpu=2,mem=4GiB) and "long" (10 %, median
//     20 min, cpu=4,mem=8GiB), fanning in to a "merge" task (median
//     1 min); a last "report" task waits for every merge. It tests a
//     policy that learns one typical task duration when there is none.
func Standard(name string, cfg StdConfig) (*Workload, error) {
	if cfg.Tasks < 0 {
		return nil, fmt.Errorf("workload %s: %d tasks: must not be negative: %w", name, cfg.Tasks, ebb.ErrInvalid)
	}
	if cfg.PrimaryCPU <= 0 {
		cfg.PrimaryCPU = 8
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	g := &gen{r: rand.New(rand.NewPCG(cfg.Seed, h.Sum64()))}
	n := func(def int) int {
		if cfg.Tasks > 0 {
			return cfg.Tasks
		}
		return def
	}
	var w *Workload
	switch name {
	case "burst":
		w = g.burst(n(1000))
	case "staged":
		w = g.staged(n(1000), 5)
	case "diurnal":
		w = g.diurnal(n(2000), 2*time.Hour)
	case "heavytail":
		w = g.heavyTail(n(1000))
	case "trickle":
		w = g.trickle(n(1000), cfg.PrimaryCPU)
	case "mixed":
		w = g.mixed(n(1000))
	default:
		return nil, fmt.Errorf("workload %q: not a standard workload (%v): %w", name, StandardNames(), ebb.ErrInvalid)
	}
	w.Name = name
	w.Source = fmt.Sprintf("standard %s, %d tasks, seed %d", name, len(w.Tasks), cfg.Seed)
	return w, nil
}

type gen struct{ r *rand.Rand }

func small() ebb.Resources { return ebb.Resources{ebb.CPU: 1, ebb.Mem: 2 << 30} }

// lognormal draws a duration of the given median and σ, cut at ±4σ and
// rounded to the millisecond.
func (g *gen) lognormal(median time.Duration, sigma float64) time.Duration {
	z := max(-4, min(4, g.r.NormFloat64()))
	d := time.Duration(float64(median) * math.Exp(sigma*z))
	return max(time.Millisecond, d.Round(time.Millisecond))
}

func id(i int) string { return fmt.Sprintf("t%06d", i) }

func (g *gen) burst(n int) *Workload {
	w := &Workload{Tasks: make([]Task, n)}
	for i := range w.Tasks {
		res := small()
		switch u := g.r.Float64(); {
		case u < 0.05:
			res = res.Scale(4)
		case u < 0.25:
			res = res.Scale(2)
		}
		w.Tasks[i] = Task{ID: id(i), Duration: g.lognormal(time.Minute, 0.6), Resources: res}
	}
	return w
}

func (g *gen) staged(n, stages int) *Workload {
	per := max(1, n/stages)
	w := &Workload{}
	gather := -1
	for s := range stages {
		first := len(w.Tasks)
		for range per {
			t := Task{ID: id(len(w.Tasks)), Duration: g.lognormal(30*time.Second, 0.4), Resources: small()}
			if gather >= 0 {
				t.Deps = []int{gather}
			}
			w.Tasks = append(w.Tasks, t)
		}
		if s == stages-1 {
			break
		}
		deps := make([]int, 0, per)
		for i := first; i < len(w.Tasks); i++ {
			deps = append(deps, i)
		}
		gather = len(w.Tasks)
		w.Tasks = append(w.Tasks, Task{
			ID: fmt.Sprintf("gather%d", s), Duration: 2 * time.Minute,
			Resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 4 << 30}, Deps: deps,
		})
	}
	return w
}

// poisson returns the arrival times of a Poisson process of mean rate
// n/period whose rate at t is proportional to shape(t), by thinning: it
// stops after n arrivals or at period, whichever comes first, unless
// period is 0 (no end).
func (g *gen) poisson(n int, period time.Duration, peak float64, rate func(t float64) float64) []time.Duration {
	var out []time.Duration
	t := 0.0
	for len(out) < n {
		t += g.r.ExpFloat64() / peak
		if period > 0 && t >= period.Seconds() {
			break
		}
		if g.r.Float64()*peak <= rate(t) {
			out = append(out, time.Duration(t*float64(time.Second)).Round(time.Millisecond))
		}
	}
	return out
}

func (g *gen) diurnal(n int, day time.Duration) *Workload {
	mean := float64(n) / day.Seconds()
	rate := func(t float64) float64 {
		// 0.1 at midnight (t=0), 1.9 at noon, mean 1.
		return mean * (1 - 0.9*math.Cos(2*math.Pi*t/day.Seconds()))
	}
	arr := g.poisson(1<<31-1, day, 1.9*mean, rate)
	w := &Workload{Tasks: make([]Task, len(arr))}
	for i, a := range arr {
		w.Tasks[i] = Task{ID: id(i), Arrival: a, Duration: g.lognormal(time.Minute, 0.5), Resources: small()}
	}
	return w
}

func (g *gen) heavyTail(n int) *Workload {
	w := &Workload{Tasks: make([]Task, n)}
	long := max(1, n/100)
	// Which tasks are the long ones: a seeded sample, not the first few.
	perm := g.r.Perm(n)
	isLong := make([]bool, n)
	for _, i := range perm[:long] {
		isLong[i] = true
	}
	for i := range w.Tasks {
		d := g.lognormal(30*time.Second, 0.3)
		if isLong[i] {
			d *= 100
		}
		w.Tasks[i] = Task{ID: id(i), Duration: d, Resources: small()}
	}
	return w
}

func (g *gen) trickle(n int, primaryCPU float64) *Workload {
	const median, sigma = time.Minute, 0.3
	meanDur := median.Seconds() * math.Exp(sigma*sigma/2)
	rate := 1.1 * primaryCPU / meanDur
	arr := g.poisson(n, 0, rate, func(float64) float64 { return rate })
	w := &Workload{Tasks: make([]Task, len(arr))}
	for i, a := range arr {
		w.Tasks[i] = Task{ID: id(i), Arrival: a, Duration: g.lognormal(median, sigma), Resources: small()}
	}
	return w
}

// The long kinds of the mixed workload.
var mixedKinds = []struct {
	kind   string
	share  float64 // cumulative
	median time.Duration
	res    ebb.Resources
}{
	{"short", 0.6, 30 * time.Second, ebb.Resources{ebb.CPU: 1, ebb.Mem: 2 << 30}},
	{"medium", 0.9, 5 * time.Minute, ebb.Resources{ebb.CPU: 2, ebb.Mem: 4 << 30}},
	{"long", 1, 20 * time.Minute, ebb.Resources{ebb.CPU: 4, ebb.Mem: 8 << 30}},
}

func (g *gen) mixed(n int) *Workload {
	const per = 50 // tasks of a group, setup and merge included
	groups := max(1, (n-1+per/2)/per)
	members := max(1, (n-1)/groups-2)
	w := &Workload{}
	var merges []int
	for range groups {
		setup := len(w.Tasks)
		w.Tasks = append(w.Tasks, Task{ID: id(setup), Kind: "setup", Duration: g.lognormal(10*time.Second, 0.3),
			Resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 1 << 30}})
		deps := make([]int, 0, members)
		for range members {
			u := g.r.Float64()
			k := 0
			for u >= mixedKinds[k].share && k < len(mixedKinds)-1 {
				k++
			}
			mk := mixedKinds[k]
			deps = append(deps, len(w.Tasks))
			w.Tasks = append(w.Tasks, Task{ID: id(len(w.Tasks)), Kind: mk.kind, Duration: g.lognormal(mk.median, 0.5),
				Resources: mk.res.Clone(), Deps: []int{setup}})
		}
		merges = append(merges, len(w.Tasks))
		w.Tasks = append(w.Tasks, Task{ID: id(len(w.Tasks)), Kind: "merge", Duration: g.lognormal(time.Minute, 0.3),
			Resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 2 << 30}, Deps: deps})
	}
	w.Tasks = append(w.Tasks, Task{ID: id(len(w.Tasks)), Kind: "report", Duration: g.lognormal(30*time.Second, 0.3),
		Resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 1 << 30}, Deps: merges})
	return w
}
