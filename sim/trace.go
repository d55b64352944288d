package sim

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
)

// The simulator's own trace format, in CSV or JSON. A CSV trace starts with
// a header naming its columns, in any order; lines starting with # are
// comments:
//
//	id,arrival,duration,resources,deps
//	prep,0s,30s,"cpu=1,mem=2GiB",
//	align1,5s,2m,"cpu=4,mem=8GiB",prep
//	merge,5s,1m,cpu=2,align1;align2
//
// id, duration and resources are required; arrival defaults to 0, deps
// to none, and an optional kind column names the task's kind. A time is a Go duration ("1m30s") or a number of seconds
// ("90"); resources take the text form of ebb.ParseResources (quote it
// when it holds commas); deps lists task IDs separated by ';' or spaces.
// IDs hold no spaces or ';'.
//
// A JSON trace holds the same fields, times as duration strings or numbers
// of seconds, resources as the text form or an object of quantities:
//
//	{"name": "mine", "tasks": [
//	  {"id": "prep", "duration": "30s", "resources": "cpu=1,mem=2GiB"},
//	  {"id": "align1", "arrival": 5, "duration": 120, "resources": {"cpu": 4}, "deps": ["prep"]}
//	]}
//
// (a bare array of tasks is read too).

// ReadTraceFile reads the trace at path: a WfFormat file (a JSON object
// with a "workflow" key, see [ReadWfFormat]), or a trace of the
// simulator's own format, CSV or JSON. The workload is named after the
// file, without its extension. Errors wrap ebb.ErrInvalid (or the file's
// read error) and name the file.
func ReadTraceFile(path string) (*Workload, error) {
	return TraceReader{}.ReadFile(path)
}

// ReadFile is [ReadTraceFile] with tr's options.
func (tr TraceReader) ReadFile(path string) (*Workload, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	var w *Workload
	if isWfFormat(data) {
		w, err = tr.ReadWfFormat(bytes.NewReader(data), name)
	} else {
		w, err = ReadTrace(bytes.NewReader(data), name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	w.Source = path
	return w, nil
}

func isWfFormat(data []byte) bool {
	var probe struct {
		Workflow json.RawMessage `json:"workflow"`
	}
	trim := bytes.TrimSpace(data)
	if len(trim) == 0 || trim[0] != '{' {
		return false
	}
	if err := json.Unmarshal(trim, &probe); err != nil {
		// Broken JSON that looks like WfFormat: let its reader say where.
		return bytes.Contains(trim, []byte(`"workflow"`))
	}
	return probe.Workflow != nil
}

// ReadTrace reads a trace of the simulator's own format, CSV or JSON (told
// apart by the first character that is not a space), naming the workload
// name. Errors wrap ebb.ErrInvalid and name the trace, the line (CSV) or
// task (JSON), and the field.
func ReadTrace(r io.Reader, name string) (*Workload, error) {
	br := bufio.NewReader(r)
	for {
		b, err := br.Peek(1)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("trace %s: empty: %w", name, ebb.ErrInvalid)
			}
			return nil, fmt.Errorf("trace %s: %w", name, err)
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			br.ReadByte()
			continue
		case '{', '[':
			return readTraceJSON(br, name)
		}
		return readTraceCSV(br, name)
	}
}

// rawTask is a task as read, before its deps are resolved.
type rawTask struct {
	task  Task
	deps  []string
	where string // "line 3", "task 2"
}

func readTraceCSV(r io.Reader, name string) (*Workload, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	head, err := cr.Read()
	if err != nil {
		return nil, csvErr(name, err)
	}
	col := map[string]int{}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(h))
		switch h {
		case "id", "arrival", "duration", "resources", "deps", "kind":
		default:
			return nil, fmt.Errorf("trace %s: line 1: column %q: unknown (id, arrival, duration, resources, deps, kind): %w", name, h, ebb.ErrInvalid)
		}
		if _, dup := col[h]; dup {
			return nil, fmt.Errorf("trace %s: line 1: column %q: given twice: %w", name, h, ebb.ErrInvalid)
		}
		col[h] = i
	}
	for _, need := range []string{"id", "duration", "resources"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("trace %s: line 1: column %q: missing: %w", name, need, ebb.ErrInvalid)
		}
	}
	var raws []rawTask
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvErr(name, err)
		}
		line, _ := cr.FieldPos(0)
		where := fmt.Sprintf("line %d", line)
		get := func(c string) string {
			i, ok := col[c]
			if !ok || i >= len(rec) {
				return ""
			}
			return strings.TrimSpace(rec[i])
		}
		bad := func(field, format string, args ...any) error {
			return fmt.Errorf("trace %s: %s: %s: %s: %w", name, where, field, fmt.Sprintf(format, args...), ebb.ErrInvalid)
		}
		rt := rawTask{where: where}
		rt.task.ID = get("id")
		if err := checkID(rt.task.ID); err != nil {
			return nil, bad("id", "%v", err)
		}
		where = fmt.Sprintf("line %d (task %q)", line, rt.task.ID)
		rt.where = where
		if s := get("arrival"); s != "" {
			if rt.task.Arrival, err = parseTime(s); err != nil {
				return nil, bad("arrival", "%v", err)
			}
		}
		if rt.task.Duration, err = parseTime(get("duration")); err != nil {
			return nil, bad("duration", "%v", err)
		}
		if rt.task.Resources, err = ebb.ParseResources(get("resources")); err != nil {
			return nil, bad("resources", "%v", err)
		}
		rt.task.Kind = get("kind")
		rt.deps = strings.FieldsFunc(get("deps"), func(c rune) bool { return c == ';' || c == ' ' || c == '\t' })
		raws = append(raws, rt)
	}
	return resolve(name, raws)
}

func csvErr(name string, err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("trace %s: no header line: %w", name, ebb.ErrInvalid)
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("trace %s: line %d: column %d: %v: %w", name, pe.Line, pe.Column, pe.Err, ebb.ErrInvalid)
	}
	return fmt.Errorf("trace %s: %v: %w", name, err, ebb.ErrInvalid)
}

func checkID(id string) error {
	if id == "" {
		return errors.New("empty")
	}
	if strings.ContainsAny(id, "; \t\r\n") {
		return fmt.Errorf("%q holds a space or ';'", id)
	}
	return nil
}

// parseTime reads a Go duration or a number of seconds; it must not be
// negative.
func parseTime(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("missing")
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return 0, fmt.Errorf("%q is negative", s)
		}
		return d, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is neither a duration nor a number of seconds", s)
	}
	return seconds(f, s)
}

// seconds converts f seconds to a Duration, rejecting what does not fit.
func seconds(f float64, s string) (time.Duration, error) {
	if !(f >= 0) || f > 1e9 { // also rejects NaN
		return 0, fmt.Errorf("%s seconds: must be in [0, 1e9]", s)
	}
	return time.Duration(f * float64(time.Second)), nil
}

type jsonTask struct {
	ID        string          `json:"id"`
	Arrival   json.RawMessage `json:"arrival"`
	Duration  json.RawMessage `json:"duration"`
	Resources json.RawMessage `json:"resources"`
	Deps      []string        `json:"deps"`
	Kind      string          `json:"kind"`
}

func readTraceJSON(r io.Reader, name string) (*Workload, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("trace %s: %w", name, err)
	}
	var raw []json.RawMessage
	trim := bytes.TrimSpace(data)
	if len(trim) > 0 && trim[0] == '[' {
		err = json.Unmarshal(trim, &raw)
	} else {
		var top struct {
			Name  string            `json:"name"`
			Tasks []json.RawMessage `json:"tasks"`
		}
		err = json.Unmarshal(trim, &top)
		raw = top.Tasks
	}
	if err != nil {
		return nil, jsonErr("trace "+name, err)
	}
	raws := make([]rawTask, 0, len(raw))
	for i, m := range raw {
		var jt jsonTask
		where := fmt.Sprintf("task #%d", i)
		if err := json.Unmarshal(m, &jt); err != nil {
			return nil, jsonErr(fmt.Sprintf("trace %s: %s", name, where), err)
		}
		bad := func(field, format string, args ...any) error {
			return fmt.Errorf("trace %s: %s: %s: %s: %w", name, where, field, fmt.Sprintf(format, args...), ebb.ErrInvalid)
		}
		if err := checkID(jt.ID); err != nil {
			return nil, bad("id", "%v", err)
		}
		where = fmt.Sprintf("task #%d (%q)", i, jt.ID)
		rt := rawTask{where: where, task: Task{ID: jt.ID, Kind: jt.Kind}, deps: jt.Deps}
		if len(jt.Arrival) > 0 && string(jt.Arrival) != "null" {
			if rt.task.Arrival, err = jsonTime(jt.Arrival); err != nil {
				return nil, bad("arrival", "%v", err)
			}
		}
		if rt.task.Duration, err = jsonTime(jt.Duration); err != nil {
			return nil, bad("duration", "%v", err)
		}
		if rt.task.Resources, err = jsonResources(jt.Resources); err != nil {
			return nil, bad("resources", "%v", err)
		}
		raws = append(raws, rt)
	}
	return resolve(name, raws)
}

func jsonTime(m json.RawMessage) (time.Duration, error) {
	if len(m) == 0 || string(m) == "null" {
		return 0, errors.New("missing")
	}
	var s string
	if json.Unmarshal(m, &s) == nil {
		return parseTime(s)
	}
	var f float64
	if err := json.Unmarshal(m, &f); err != nil {
		return 0, fmt.Errorf("%s is neither a duration string nor a number of seconds", m)
	}
	return seconds(f, string(m))
}

func jsonResources(m json.RawMessage) (ebb.Resources, error) {
	if len(m) == 0 || string(m) == "null" {
		return nil, errors.New("missing")
	}
	var s string
	if json.Unmarshal(m, &s) == nil {
		return ebb.ParseResources(s)
	}
	var r map[string]float64
	if err := json.Unmarshal(m, &r); err != nil {
		return nil, fmt.Errorf("%s is neither resources text nor an object of quantities", m)
	}
	res := ebb.Resources(r)
	if err := res.Validate(); err != nil {
		return nil, err
	}
	return res, nil
}

// jsonErr describes a JSON decoding error with the field and offset it
// happened at, wrapping ebb.ErrInvalid.
func jsonErr(where string, err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return fmt.Errorf("%s: field %s: %s where %s was expected (offset %d): %w", where, te.Field, te.Value, te.Type, te.Offset, ebb.ErrInvalid)
	case errors.As(err, &se):
		return fmt.Errorf("%s: JSON syntax at offset %d: %v: %w", where, se.Offset, err, ebb.ErrInvalid)
	}
	return fmt.Errorf("%s: %v: %w", where, err, ebb.ErrInvalid)
}

// resolve turns raw tasks into a validated workload.
func resolve(name string, raws []rawTask) (*Workload, error) {
	idx := make(map[string]int, len(raws))
	for i, rt := range raws {
		if j, dup := idx[rt.task.ID]; dup {
			return nil, fmt.Errorf("trace %s: %s: id: also %s: %w", name, rt.where, raws[j].where, ebb.ErrInvalid)
		}
		idx[rt.task.ID] = i
	}
	w := &Workload{Name: name, Tasks: make([]Task, len(raws))}
	for i, rt := range raws {
		t := rt.task
		for _, d := range rt.deps {
			j, ok := idx[d]
			if !ok {
				return nil, fmt.Errorf("trace %s: %s: deps: no task %q: %w", name, rt.where, d, ebb.ErrInvalid)
			}
			if !slices.Contains(t.Deps, j) {
				t.Deps = append(t.Deps, j)
			}
		}
		w.Tasks[i] = t
	}
	if err := w.Validate(); err != nil {
		return nil, fmt.Errorf("trace %s: %w", name, err)
	}
	return w, nil
}

// WriteTraceCSV writes w in the simulator's CSV trace format, which
// ReadTrace reads back to an equal workload. It fails (wrapping
// ebb.ErrInvalid) when a task ID holds a space or ';'.
func WriteTraceCSV(out io.Writer, w *Workload) error {
	cw := csv.NewWriter(out)
	head := []string{"id", "arrival", "duration", "resources", "deps"}
	kinds := slices.ContainsFunc(w.Tasks, func(t Task) bool { return t.Kind != "" })
	if kinds {
		head = append(head, "kind")
	}
	cw.Write(head)
	for i, t := range w.Tasks {
		if err := checkID(t.ID); err != nil {
			return fmt.Errorf("workload %s: task #%d: id: %v: %w", w.Name, i, err, ebb.ErrInvalid)
		}
		deps := make([]string, len(t.Deps))
		for k, d := range t.Deps {
			deps[k] = w.Tasks[d].ID
		}
		rec := []string{t.ID, t.Arrival.String(), t.Duration.String(), t.Resources.Format(), strings.Join(deps, ";")}
		if kinds {
			rec = append(rec, t.Kind)
		}
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

// WriteTraceJSON writes w in the simulator's JSON trace format.
func WriteTraceJSON(out io.Writer, w *Workload) error {
	tasks := make([]map[string]any, len(w.Tasks))
	for i, t := range w.Tasks {
		m := map[string]any{
			"id": t.ID, "arrival": t.Arrival.String(), "duration": t.Duration.String(),
			"resources": t.Resources.Format(),
		}
		if t.Kind != "" {
			m["kind"] = t.Kind
		}
		if len(t.Deps) > 0 {
			deps := make([]string, len(t.Deps))
			for k, d := range t.Deps {
				deps[k] = w.Tasks[d].ID
			}
			m["deps"] = deps
		}
		tasks[i] = m
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", " ")
	return enc.Encode(map[string]any{"name": w.Name, "tasks": tasks})
}
