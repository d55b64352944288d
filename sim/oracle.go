package sim

import (
	"cmp"
	"slices"
	"time"

	"github.com/ebbflow/ebb"
)

// A Bound is the offline lower bound on a workload's makespan on a
// cluster: no policy, however clairvoyant, finishes sooner. It is the
// oracle of BENCHMARKS.md §2, for reference; it is not a Policy.
type Bound struct {
	// CriticalPath is the longest chain of the graph, arrivals counted:
	// the latest earliest-finish of any task with unbounded capacity.
	CriticalPath time.Duration `json:"critical_path"`
	// Area is T*, the smallest T with P·T + A·max(0, T − L) ≥ W: W the
	// work in cpu-seconds, P the primary's cpu, A the most auxiliary
	// cpu (MaxWorkers workers of the largest shape), L the least boot
	// time.
	Area time.Duration `json:"area"`
	// Arrivals is the latest s + W(s)/(P + A) over arrival times s,
	// W(s) the work arriving at s or later: work cannot start before it
	// arrives, however much is held. It extends T* to workloads whose
	// tasks arrive over time, and is at most T* when all arrive at 0.
	Arrivals time.Duration `json:"arrivals"`
	// LB is the largest of the three.
	LB time.Duration `json:"lb"`
}

// LowerBound returns the lower bound of w's makespan on cluster c (zero
// fields defaulted). w must be valid (see Workload.Validate); an invalid
// one gets a zero Bound. For a stream of runs (see Workload.RunGap) each
// field is the sum of the runs' bounds plus the gaps between them, since
// a run starts only once the one before has ended.
func LowerBound(w *Workload, c Cluster) Bound {
	runs := w.runs()
	if len(runs) == 1 {
		return lowerBound(runs[0], c)
	}
	if w.Validate() != nil {
		return Bound{}
	}
	gaps := time.Duration(len(runs)-1) * w.RunGap
	b := Bound{CriticalPath: gaps, Area: gaps, Arrivals: gaps, LB: gaps}
	for _, r := range runs {
		rb := lowerBound(r, c)
		b.CriticalPath += rb.CriticalPath
		b.Area += rb.Area
		b.Arrivals += rb.Arrivals
		b.LB += rb.LB
	}
	return b
}

func lowerBound(w *Workload, c Cluster) Bound {
	c, err := c.WithDefaults()
	order, err2 := w.order()
	if err != nil || err2 != nil {
		return Bound{}
	}
	var b Bound
	finish := make([]time.Duration, len(w.Tasks))
	for _, i := range order {
		t := &w.Tasks[i]
		start := t.Arrival
		for _, d := range t.Deps {
			start = max(start, finish[d])
		}
		finish[i] = start + t.Duration
		b.CriticalPath = max(b.CriticalPath, finish[i])
	}
	p := c.Primary[ebb.CPU]
	var shape float64
	for _, s := range c.Shapes {
		shape = max(shape, s[ebb.CPU])
	}
	aux := float64(c.MaxWorkers) * shape
	work := w.Work()
	boot := c.Boot.Min().Seconds()
	var t float64
	switch {
	case work == 0:
	case p*boot >= work:
		t = work / p
	case p+aux > 0:
		t = (work + aux*boot) / (p + aux)
	}
	b.Area = seconds2d(t)
	// Work by arrival, latest first.
	if p+aux > 0 {
		idx := make([]int, len(w.Tasks))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(w.Tasks[b].Arrival, w.Tasks[a].Arrival) })
		var suffix, best float64
		for k, i := range idx {
			t := &w.Tasks[i]
			suffix += t.Resources[ebb.CPU] * t.Duration.Seconds()
			if k+1 < len(idx) && w.Tasks[idx[k+1]].Arrival == t.Arrival {
				continue
			}
			best = max(best, t.Arrival.Seconds()+suffix/(p+aux))
		}
		b.Arrivals = seconds2d(best)
	}
	b.LB = max(b.CriticalPath, b.Area, b.Arrivals)
	return b
}

func seconds2d(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
