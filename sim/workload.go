package sim

import (
	"fmt"
	"time"

	"github.com/ebbflow/ebb"
)

// A Task is one node of a [Workload]: it arrives at Arrival, becomes ready
// once it has arrived and every task of Deps has finished, and then runs
// for Duration holding Resources.
type Task struct {
	ID string `json:"id"`
	// Kind names what sort of task it is (a program, a step of a
	// pipeline), for reports; empty when unknown.
	Kind      string        `json:"kind,omitempty"`
	Arrival   time.Duration `json:"arrival"`
	Duration  time.Duration `json:"duration"`
	Resources ebb.Resources `json:"resources"`
	// Deps are indexes into Workload.Tasks of the tasks that must
	// finish before this one can start, all of the same Run.
	Deps []int `json:"deps,omitempty"`
	// Run, in a stream of runs (see [Replay]), is the run the task
	// belongs to, from 0; its Arrival then counts from the run's start.
	Run int `json:"run,omitempty"`
}

// A Workload is what a simulation runs: a graph of tasks with arrival
// times. Build one with the standard generators ([Standard]), read one
// from a trace ([ReadTrace], [ReadWfFormat]), or fill it by hand and call
// Validate.
type Workload struct {
	// Name names the workload in reports and file names.
	Name string `json:"name"`
	// Source says where it came from: a generator and its parameters,
	// or a file.
	Source string `json:"source,omitempty"`
	Tasks  []Task `json:"tasks"`
	// Defaulted counts what a reader had to assume; see [Defaulted].
	Defaulted Defaulted `json:"defaulted"`
	// RunGap, in a stream of runs (tasks with Run above 0), is the quiet
	// time between the end of a run (its last task finished) and the
	// start of the next: run k starts RunGap after every task of the
	// runs before it has finished, and its tasks arrive at that start
	// plus their Arrival. A run's start is known only as the simulation
	// goes, since it follows from how fast the policy ran the run before.
	RunGap time.Duration `json:"run_gap,omitempty"`
}

// Defaulted counts the fields a trace reader filled in because the trace
// did not say (null or missing), so that a report can say how much of a
// workload is assumed.
type Defaulted struct {
	// Cores: tasks without a core count, given 1 cpu.
	Cores int `json:"cores,omitempty"`
	// Memory: tasks without a memory figure, given none (unknown).
	Memory int `json:"memory,omitempty"`
	// Runtime: tasks without a runtime (or without an execution record),
	// given 0 s.
	Runtime int `json:"runtime,omitempty"`
}

// Validate checks that w can be simulated: IDs unique and not empty,
// durations and arrivals not negative, resources valid and not empty,
// dependencies in range and free of cycles. Its errors wrap ebb.ErrInvalid
// and name the workload, the task and the field.
func (w *Workload) Validate() error {
	_, err := w.order()
	return err
}

// order validates w and returns its task indexes in a topological order.
func (w *Workload) order() ([]int32, error) {
	n := len(w.Tasks)
	ids := make(map[string]int, n)
	indeg := make([]int32, n)
	for i := range w.Tasks {
		t := &w.Tasks[i]
		bad := func(field string, format string, args ...any) error {
			return fmt.Errorf("workload %s: task %q (#%d): %s: %s: %w", w.Name, t.ID, i, field, fmt.Sprintf(format, args...), ebb.ErrInvalid)
		}
		if t.ID == "" {
			return nil, bad("id", "empty")
		}
		if j, dup := ids[t.ID]; dup {
			return nil, bad("id", "also task #%d", j)
		}
		ids[t.ID] = i
		if t.Arrival < 0 {
			return nil, bad("arrival", "%v is negative", t.Arrival)
		}
		if t.Duration < 0 {
			return nil, bad("duration", "%v is negative", t.Duration)
		}
		if t.Run < 0 {
			return nil, bad("run", "%d is negative", t.Run)
		}
		if err := t.Resources.Validate(); err != nil {
			return nil, bad("resources", "%v", err)
		}
		if t.Resources.IsZero() {
			return nil, bad("resources", "needs nothing (a task must hold some resource)")
		}
		for _, d := range t.Deps {
			if d < 0 || d >= n {
				return nil, bad("deps", "index %d out of range", d)
			}
			if d == i {
				return nil, bad("deps", "depends on itself")
			}
			if o := w.Tasks[d].Run; o != t.Run {
				return nil, bad("deps", "task #%d is of run %d, not of run %d", d, o, t.Run)
			}
		}
		indeg[i] = int32(len(t.Deps))
	}
	dependents := make([][]int32, n)
	for i, t := range w.Tasks {
		for _, d := range t.Deps {
			dependents[d] = append(dependents[d], int32(i))
		}
	}
	order := make([]int32, 0, n)
	for i := range n {
		if indeg[i] == 0 {
			order = append(order, int32(i))
		}
	}
	for k := 0; k < len(order); k++ {
		for _, c := range dependents[order[k]] {
			if indeg[c]--; indeg[c] == 0 {
				order = append(order, c)
			}
		}
	}
	if len(order) != n {
		for i := range n {
			if indeg[i] > 0 {
				return nil, fmt.Errorf("workload %s: task %q (#%d): deps: part of a cycle: %w", w.Name, w.Tasks[i].ID, i, ebb.ErrInvalid)
			}
		}
	}
	return order, nil
}

// Work returns the workload's total work in cpu-seconds: the sum over its
// tasks of cpu × duration.
func (w *Workload) Work() float64 {
	var s float64
	for _, t := range w.Tasks {
		s += t.Resources[ebb.CPU] * t.Duration.Seconds()
	}
	return s
}

// Span returns the time from the first arrival to the last.
func (w *Workload) Span() time.Duration {
	if len(w.Tasks) == 0 {
		return 0
	}
	lo, hi := w.Tasks[0].Arrival, w.Tasks[0].Arrival
	for _, t := range w.Tasks {
		lo, hi = min(lo, t.Arrival), max(hi, t.Arrival)
	}
	return hi - lo
}

// Replay returns a stream of n runs of w, one after the other: run k
// (from 0) is w with Run k, and starts gap after run k−1 has finished
// (see Workload.RunGap), so that gap is the quiet time between the end
// of one run and the start of the next whatever the policy. Task IDs get
// a "k/" prefix when n > 1. n below 2 returns a copy of w.
func Replay(w *Workload, n int, gap time.Duration) *Workload {
	n = max(1, n)
	out := &Workload{Name: w.Name, Source: w.Source, Tasks: make([]Task, 0, n*len(w.Tasks)), RunGap: w.RunGap}
	if n > 1 {
		out.Name = fmt.Sprintf("%s×%d", w.Name, n)
		out.Source = fmt.Sprintf("%s, replayed %d times, each %v after the previous run ended", w.Source, n, gap)
		out.RunGap = gap
	}
	runs := 1
	for _, t := range w.Tasks {
		runs = max(runs, t.Run+1)
	}
	for k := range n {
		base := k * len(w.Tasks)
		for _, t := range w.Tasks {
			c := Task{
				ID:        t.ID,
				Kind:      t.Kind,
				Arrival:   t.Arrival,
				Duration:  t.Duration,
				Resources: t.Resources.Clone(),
				Run:       k*runs + t.Run,
			}
			if n > 1 {
				c.ID = fmt.Sprintf("%d/%s", k, t.ID)
			}
			for _, d := range t.Deps {
				c.Deps = append(c.Deps, base+d)
			}
			out.Tasks = append(out.Tasks, c)
		}
	}
	out.Defaulted = Defaulted{
		Cores:   n * w.Defaulted.Cores,
		Memory:  n * w.Defaulted.Memory,
		Runtime: n * w.Defaulted.Runtime,
	}
	return out
}

// runs splits w into its runs (see Task.Run), each a workload of its
// own, in run order; a workload of one run is returned as is. Empty runs
// are left out.
func (w *Workload) runs() []*Workload {
	last := 0
	for _, t := range w.Tasks {
		last = max(last, t.Run)
	}
	if last == 0 {
		return []*Workload{w}
	}
	parts := make([]*Workload, last+1)
	index := make([]int, len(w.Tasks))
	for i, t := range w.Tasks {
		p := parts[t.Run]
		if p == nil {
			p = &Workload{Name: fmt.Sprintf("%s run %d", w.Name, t.Run)}
			parts[t.Run] = p
		}
		index[i] = len(p.Tasks)
		c := t
		c.Run, c.Deps = 0, nil
		p.Tasks = append(p.Tasks, c)
	}
	for i, t := range w.Tasks {
		c := &parts[t.Run].Tasks[index[i]]
		for _, d := range t.Deps {
			c.Deps = append(c.Deps, index[d])
		}
	}
	out := parts[:0]
	for _, p := range parts {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}
