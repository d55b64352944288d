package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/ebbflow/ebb"
)

// The parts of a WfFormat (WfCommons) document the simulator reads.
type wfDoc struct {
	Name     string `json:"name"`
	Workflow *struct {
		Specification *struct {
			Tasks []json.RawMessage `json:"tasks"`
		} `json:"specification"`
		Execution *struct {
			Tasks []json.RawMessage `json:"tasks"`
		} `json:"execution"`
	} `json:"workflow"`
}

type wfSpecTask struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Parents  []string `json:"parents"`
	Children []string `json:"children"`
}

type wfExecTask struct {
	ID      string   `json:"id"`
	Runtime *float64 `json:"runtimeInSeconds"`
	Cores   *float64 `json:"coreCount"`
	Memory  *float64 `json:"memoryInBytes"`
}

// ReadWfFormat reads a workflow instance in WfFormat (WfCommons JSON,
// schema 1.4 and 1.5) as a workload named name: the graph comes from
// workflow.specification.tasks[] (a task depends on its parents, and on
// any task that lists it among its children), the durations and
// resources from workflow.execution.tasks[] matched by id: runtimeInSeconds,
// coreCount (cpu) and memoryInBytes (mem). Every task arrives at 0.
//
// Missing or null figures are defaulted, never fatal, and counted in
// Workload.Defaulted: no core count → 1 cpu; no memory → none (unknown,
// so it constrains nothing); no runtime, or no execution record → 0 s.
// Anything malformed (bad JSON, a value of the wrong type, a negative or
// non-finite figure, a task listed twice, a parent or child that is no
// task, a cycle) is an error wrapping ebb.ErrInvalid that names the task
// and the field.
func ReadWfFormat(r io.Reader, name string) (*Workload, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("wfformat %s: %w", name, err)
	}
	var doc wfDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, jsonErr("wfformat "+name, err)
	}
	if doc.Workflow == nil {
		return nil, fmt.Errorf("wfformat %s: field workflow: missing: %w", name, ebb.ErrInvalid)
	}
	if doc.Workflow.Specification == nil {
		return nil, fmt.Errorf("wfformat %s: field workflow.specification: missing: %w", name, ebb.ErrInvalid)
	}
	spec := doc.Workflow.Specification.Tasks
	w := &Workload{Name: name, Tasks: make([]Task, len(spec))}
	idx := make(map[string]int, len(spec))
	parents := make([][]string, len(spec))
	children := make([][]string, len(spec))
	for i, m := range spec {
		var st wfSpecTask
		where := fmt.Sprintf("wfformat %s: specification task #%d", name, i)
		if err := json.Unmarshal(m, &st); err != nil {
			return nil, jsonErr(where, err)
		}
		if st.ID == "" {
			return nil, fmt.Errorf("%s: field id: missing: %w", where, ebb.ErrInvalid)
		}
		if j, dup := idx[st.ID]; dup {
			return nil, fmt.Errorf("%s (%q): field id: also specification task #%d: %w", where, st.ID, j, ebb.ErrInvalid)
		}
		idx[st.ID] = i
		w.Tasks[i] = Task{ID: st.ID}
		parents[i], children[i] = st.Parents, st.Children
	}
	// Durations and resources.
	seen := make([]bool, len(spec))
	if ex := doc.Workflow.Execution; ex != nil {
		for k, m := range ex.Tasks {
			var et wfExecTask
			where := fmt.Sprintf("wfformat %s: execution task #%d", name, k)
			if err := json.Unmarshal(m, &et); err != nil {
				return nil, jsonErr(where, err)
			}
			i, ok := idx[et.ID]
			if !ok {
				return nil, fmt.Errorf("%s (%q): field id: no such specification task: %w", where, et.ID, ebb.ErrInvalid)
			}
			if seen[i] {
				return nil, fmt.Errorf("%s (%q): field id: listed twice: %w", where, et.ID, ebb.ErrInvalid)
			}
			seen[i] = true
			where = fmt.Sprintf("%s (%q)", where, et.ID)
			t := &w.Tasks[i]
			t.Resources = ebb.Resources{}
			num := func(field string, v *float64, positive bool) (float64, bool, error) {
				if v == nil {
					return 0, false, nil
				}
				if math.IsNaN(*v) || math.IsInf(*v, 0) || *v < 0 || positive && *v == 0 || *v > 1e15 {
					return 0, false, fmt.Errorf("%s: field %s: %v out of range: %w", where, field, *v, ebb.ErrInvalid)
				}
				return *v, true, nil
			}
			rt, ok, err := num("runtimeInSeconds", et.Runtime, false)
			if err != nil {
				return nil, err
			}
			if !ok {
				w.Defaulted.Runtime++
			} else if rt > 1e9 {
				return nil, fmt.Errorf("%s: field runtimeInSeconds: %v out of range: %w", where, rt, ebb.ErrInvalid)
			}
			t.Duration = time.Duration(rt * float64(time.Second))
			cores, ok, err := num("coreCount", et.Cores, true)
			if err != nil {
				return nil, err
			}
			if !ok {
				cores = 1
				w.Defaulted.Cores++
			}
			t.Resources[ebb.CPU] = cores
			mem, ok, err := num("memoryInBytes", et.Memory, false)
			if err != nil {
				return nil, err
			}
			if !ok {
				w.Defaulted.Memory++
			} else if mem > 0 {
				t.Resources[ebb.Mem] = mem
			}
		}
	}
	for i := range w.Tasks {
		if !seen[i] {
			w.Tasks[i].Resources = ebb.Resources{ebb.CPU: 1}
			w.Defaulted.Runtime++
			w.Defaulted.Cores++
			w.Defaulted.Memory++
		}
	}
	// The graph: parents, and children seen from the other side.
	for i := range w.Tasks {
		for _, p := range parents[i] {
			j, ok := idx[p]
			if !ok {
				return nil, fmt.Errorf("wfformat %s: specification task %q: field parents: no task %q: %w", name, w.Tasks[i].ID, p, ebb.ErrInvalid)
			}
			addDep(&w.Tasks[i], j)
		}
		for _, c := range children[i] {
			j, ok := idx[c]
			if !ok {
				return nil, fmt.Errorf("wfformat %s: specification task %q: field children: no task %q: %w", name, w.Tasks[i].ID, c, ebb.ErrInvalid)
			}
			addDep(&w.Tasks[j], i)
		}
	}
	for i := range w.Tasks {
		slices.Sort(w.Tasks[i].Deps)
	}
	if err := w.Validate(); err != nil {
		var inv error = err
		if !errors.Is(err, ebb.ErrInvalid) {
			inv = fmt.Errorf("%v: %w", err, ebb.ErrInvalid)
		}
		return nil, fmt.Errorf("wfformat %s: %w", name, inv)
	}
	return w, nil
}

func addDep(t *Task, j int) {
	if !slices.Contains(t.Deps, j) {
		t.Deps = append(t.Deps, j)
	}
}
