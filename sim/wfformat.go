package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
)

// CoreSource says where a WfFormat reader takes a task's cpu from.
type CoreSource string

const (
	// CoresCount takes the recorded core count (coreCount in schema
	// 1.5, cores in 1.4); a task without one gets 1 cpu. The default.
	CoresCount CoreSource = "count"
	// CoresAvgCPU takes the cores the task kept busy on average:
	// avgCPU (a percentage of one core) / 100, rounded up to whole
	// cores, at least 1 (a task that idled still held a core). A task
	// without avgCPU falls back on its core count, then on 1 cpu.
	// Recorded core counts are often missing (every trace of
	// WfInstances' Pegasus and Nextflow sets leaves them out) while
	// avgCPU is there, and shows tasks that used two cores.
	CoresAvgCPU CoreSource = "avgcpu"
)

// ParseCoreSource parses "count" (or "") and "avgcpu". Errors wrap
// ebb.ErrInvalid.
func ParseCoreSource(s string) (CoreSource, error) {
	switch CoreSource(strings.ToLower(strings.TrimSpace(s))) {
	case "", CoresCount:
		return CoresCount, nil
	case CoresAvgCPU:
		return CoresAvgCPU, nil
	}
	return "", fmt.Errorf("core source %q: want %s or %s: %w", s, CoresCount, CoresAvgCPU, ebb.ErrInvalid)
}

// A TraceReader reads traces with options. The zero TraceReader is what
// the package functions [ReadWfFormat], [ReadTraceFile] and
// [ReadTraceDir] use.
type TraceReader struct {
	// Cores says where a WfFormat task's cpu comes from; default
	// CoresCount.
	Cores CoreSource
}

// The parts of a WfFormat (WfCommons) document the simulator reads, of
// schema 1.4 (workflow.tasks) and 1.5 (workflow.specification and
// workflow.execution).
type wfDoc struct {
	Name          string `json:"name"`
	SchemaVersion string `json:"schemaVersion"`
	Workflow      *struct {
		Specification *struct {
			Tasks []json.RawMessage `json:"tasks"`
		} `json:"specification"`
		Execution *struct {
			Tasks []json.RawMessage `json:"tasks"`
		} `json:"execution"`
		Tasks []json.RawMessage `json:"tasks"` // 1.4
		Jobs  json.RawMessage   `json:"jobs"`  // 1.3 and before
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
	AvgCPU  *float64 `json:"avgCPU"`
	Memory  *float64 `json:"memoryInBytes"`
}

// A 1.4 task holds its graph and its execution record in one object,
// named by name (which parents and children refer to).
type wf14Task struct {
	Name     string   `json:"name"`
	ID       string   `json:"id"`
	Category string   `json:"category"`
	Parents  []string `json:"parents"`
	Children []string `json:"children"`
	Runtime  *float64 `json:"runtimeInSeconds"`
	Cores    *float64 `json:"cores"`
	AvgCPU   *float64 `json:"avgCPU"`
	Memory   *float64 `json:"memoryInBytes"`
}

// ReadWfFormat reads a WfFormat trace with the zero [TraceReader].
func ReadWfFormat(r io.Reader, name string) (*Workload, error) {
	return TraceReader{}.ReadWfFormat(r, name)
}

// ReadWfFormat reads a workflow instance in WfFormat (WfCommons JSON) as
// a workload named name. Every task arrives at 0.
//
// Schema 1.5 (and 1.6, which keeps its layout): the graph comes from
// workflow.specification.tasks[] (a task depends on its parents, and on
// any task that lists it among its children), the durations and
// resources from workflow.execution.tasks[] matched by id:
// runtimeInSeconds, coreCount or avgCPU (cpu, see [CoreSource]) and
// memoryInBytes (mem). Schema 1.4: workflow.tasks[] holds both, each
// task named by name (parents and children refer to names), its cores
// in cores. A task's Kind is its category (1.4) or its name without a
// Pegasus "_ID0000001" suffix and its trailing number, its other numbers
// written "#", as ebb names a task's kind.
//
// Missing or null figures of a task are defaulted, never fatal, and
// counted in Workload.Defaulted: no core count → 1 cpu; no memory → none
// (unknown, so it constrains nothing); no runtime, or no execution
// record for the task → 0 s. A trace without any execution record
// (no workflow.execution, or no task in it) is an error: it says
// nothing about how long anything ran. Anything malformed (bad JSON, a
// value of the wrong type, a negative or non-finite figure, a task
// listed twice, a parent or child that is no task, a cycle, a schema
// before 1.4 or after 1.6) is an error wrapping ebb.ErrInvalid that
// names the task and the field.
func (tr TraceReader) ReadWfFormat(r io.Reader, name string) (*Workload, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("wfformat %s: %w", name, err)
	}
	var doc wfDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, jsonErrAt("wfformat "+name, data, err)
	}
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("wfformat %s: field %s: %s: %w", name, field, fmt.Sprintf(format, args...), ebb.ErrInvalid)
	}
	switch v := doc.SchemaVersion; v {
	case "", "1.4", "1.5", "1.6":
	default:
		return nil, bad("schemaVersion", "%q: not supported (1.4, 1.5 and 1.6 are)", v)
	}
	wf := doc.Workflow
	if wf == nil {
		return nil, bad("workflow", "missing")
	}
	var recs []wfRecord
	switch {
	case wf.Specification != nil:
		if wf.Execution == nil {
			return nil, bad("workflow.execution", "missing: the trace records no run, so no task has a runtime")
		}
		if len(wf.Execution.Tasks) == 0 {
			return nil, bad("workflow.execution.tasks", "empty: the trace records no task's run")
		}
		recs, err = readWf15(name, wf.Specification.Tasks, wf.Execution.Tasks)
	case wf.Tasks != nil:
		if doc.SchemaVersion != "" && doc.SchemaVersion != "1.4" {
			return nil, bad("workflow.tasks", "schema %s has workflow.specification and workflow.execution, not workflow.tasks", doc.SchemaVersion)
		}
		recs, err = readWf14(name, wf.Tasks)
	case wf.Jobs != nil:
		return nil, bad("workflow.jobs", "a schema before 1.4 (jobs, not tasks): convert the trace to 1.5 with WfCommons (wfcommons.wfinstances.Instance reads it and writes 1.5)")
	default:
		return nil, bad("workflow.specification", "missing (nor is there a 1.4 workflow.tasks)")
	}
	if err != nil {
		return nil, err
	}
	return tr.build(name, recs)
}

// A wfRecord is one task as either schema gives it.
type wfRecord struct {
	id, kind          string
	where             string // "specification task #3", "task #3"
	parents, children []string
	exec              *wfExecTask // nil: no execution record
	execWhere         string
	coresField        string // coreCount (1.5), cores (1.4)
}

var pegasusID = regexp.MustCompile(`_ID[0-9]+$`)

// kindOf returns the kind of a task named name (id when it has no name):
// the name without Pegasus's "_ID0000042" suffix, then without its
// trailing number, as ebb names the kind of a task that gives none (see
// ebb.Task.KindName): "filterContams_s_1_sequence_3_ID0000042" is of
// kind "filterContams_s_#_sequence", as are the other chunks of its lane
// and of every other lane. The trace's program is left out: some
// workflow systems record a whole script there.
func kindOf(name, id string) string {
	if name == "" {
		name = id
	}
	task := ebb.Task{Name: pegasusID.ReplaceAllString(name, "")}
	return strings.TrimPrefix(task.KindName(), ":")
}

func readWf15(name string, spec, exec []json.RawMessage) ([]wfRecord, error) {
	recs := make([]wfRecord, len(spec))
	idx := make(map[string]int, len(spec))
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
		recs[i] = wfRecord{id: st.ID, kind: kindOf(st.Name, st.ID), where: fmt.Sprintf("specification task %q", st.ID),
			parents: st.Parents, children: st.Children}
	}
	for k, m := range exec {
		et := new(wfExecTask)
		where := fmt.Sprintf("wfformat %s: execution task #%d", name, k)
		if err := json.Unmarshal(m, et); err != nil {
			return nil, jsonErr(where, err)
		}
		i, ok := idx[et.ID]
		if !ok {
			return nil, fmt.Errorf("%s (%q): field id: no such specification task: %w", where, et.ID, ebb.ErrInvalid)
		}
		if recs[i].exec != nil {
			return nil, fmt.Errorf("%s (%q): field id: listed twice: %w", where, et.ID, ebb.ErrInvalid)
		}
		recs[i].exec, recs[i].execWhere, recs[i].coresField = et, fmt.Sprintf("%s (%q)", where, et.ID), "coreCount"
	}
	return recs, nil
}

func readWf14(name string, tasks []json.RawMessage) ([]wfRecord, error) {
	recs := make([]wfRecord, len(tasks))
	idx := make(map[string]int, len(tasks))
	for i, m := range tasks {
		var t wf14Task
		where := fmt.Sprintf("wfformat %s: task #%d", name, i)
		if err := json.Unmarshal(m, &t); err != nil {
			return nil, jsonErr(where, err)
		}
		if t.Name == "" {
			return nil, fmt.Errorf("%s: field name: missing (schema 1.4 names tasks by name): %w", where, ebb.ErrInvalid)
		}
		if j, dup := idx[t.Name]; dup {
			return nil, fmt.Errorf("%s (%q): field name: also task #%d: %w", where, t.Name, j, ebb.ErrInvalid)
		}
		idx[t.Name] = i
		kind := t.Category
		if kind == "" {
			kind = kindOf(t.Name, t.ID)
		}
		recs[i] = wfRecord{
			id: t.Name, kind: kind, where: fmt.Sprintf("task %q", t.Name),
			parents: t.Parents, children: t.Children,
			exec:       &wfExecTask{ID: t.Name, Runtime: t.Runtime, Cores: t.Cores, AvgCPU: t.AvgCPU, Memory: t.Memory},
			execWhere:  fmt.Sprintf("%s (%q)", where, t.Name),
			coresField: "cores",
		}
	}
	return recs, nil
}

// build turns records into a validated workload.
func (tr TraceReader) build(name string, recs []wfRecord) (*Workload, error) {
	w := &Workload{Name: name, Tasks: make([]Task, len(recs))}
	idx := make(map[string]int, len(recs))
	for i, rc := range recs {
		idx[rc.id] = i
		w.Tasks[i] = Task{ID: rc.id, Kind: rc.kind}
	}
	for i, rc := range recs {
		t := &w.Tasks[i]
		et := rc.exec
		if et == nil {
			t.Resources = ebb.Resources{ebb.CPU: 1}
			w.Defaulted.Runtime++
			w.Defaulted.Cores++
			w.Defaulted.Memory++
			continue
		}
		where := rc.execWhere
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
		cores, haveCores, err := num(rc.coresField, et.Cores, true)
		if err != nil {
			return nil, err
		}
		avg, haveAvg, err := num("avgCPU", et.AvgCPU, false)
		if err != nil {
			return nil, err
		}
		switch {
		case tr.Cores == CoresAvgCPU && haveAvg:
			cores = max(1, math.Ceil(avg/100-1e-9))
		case !haveCores:
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
	// The graph: parents, and children seen from the other side.
	for i, rc := range recs {
		for _, p := range rc.parents {
			j, ok := idx[p]
			if !ok {
				return nil, fmt.Errorf("wfformat %s: %s: field parents: no task %q: %w", name, rc.where, p, ebb.ErrInvalid)
			}
			addDep(&w.Tasks[i], j)
		}
		for _, c := range rc.children {
			j, ok := idx[c]
			if !ok {
				return nil, fmt.Errorf("wfformat %s: %s: field children: no task %q: %w", name, rc.where, c, ebb.ErrInvalid)
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

// jsonErrAt is jsonErr with the line and column of a syntax error.
func jsonErrAt(where string, data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) && se.Offset <= int64(len(data)) {
		before := data[:se.Offset]
		line := bytes.Count(before, []byte("\n")) + 1
		col := int(se.Offset) - bytes.LastIndexByte(before, '\n') - 1
		return fmt.Errorf("%s: not JSON: line %d, column %d: %v: %w", where, line, col, err, ebb.ErrInvalid)
	}
	return jsonErr(where, err)
}

func addDep(t *Task, j int) {
	if !slices.Contains(t.Deps, j) {
		t.Deps = append(t.Deps, j)
	}
}
