package sim

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
)

func TestReadWfFormat(t *testing.T) {
	w, err := ReadTraceFile("testdata/forkjoin-wf.json")
	if err != nil {
		t.Fatal(err)
	}
	if w.Name != "forkjoin-wf" {
		t.Errorf("name %q", w.Name)
	}
	want := []Task{
		{ID: "split_1", Duration: 10500 * time.Millisecond, Resources: ebb.Resources{ebb.CPU: 2, ebb.Mem: 1 << 20}},
		{ID: "work_1", Duration: 30 * time.Second, Resources: ebb.Resources{ebb.CPU: 1}, Deps: []int{0}},
		{ID: "work_2", Duration: 20250 * time.Millisecond, Resources: ebb.Resources{ebb.CPU: 1}, Deps: []int{0}},
		// Its parents say none; split_1's children list it.
		{ID: "work_3", Resources: ebb.Resources{ebb.CPU: 4}, Deps: []int{0}},
		{ID: "join_1", Duration: 40 * time.Second, Resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 2 << 20}, Deps: []int{1, 2, 3}},
	}
	if !reflect.DeepEqual(w.Tasks, want) {
		t.Errorf("tasks\n%+v\nwant\n%+v", w.Tasks, want)
	}
	// work_1: cores and memory null; work_2: both missing; work_3:
	// runtime null.
	if want := (Defaulted{Cores: 2, Memory: 2, Runtime: 1}); w.Defaulted != want {
		t.Errorf("defaulted %+v, want %+v", w.Defaulted, want)
	}
}

func TestReadWfFormatErrors(t *testing.T) {
	base, err := os.ReadFile("testdata/forkjoin-wf.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"unknown parent", `"parents": ["split_1"], "children": ["join_1"]}`, `"parents": ["nope"], "children": ["join_1"]}`, `task "work_1": field parents: no task "nope"`},
		{"unknown child", `"children": ["work_1", "work_2", "work_3"]`, `"children": ["work_1", "work_9"]`, `field children: no task "work_9"`},
		{"negative runtime", `"runtimeInSeconds": 30,`, `"runtimeInSeconds": -30,`, `("work_1"): field runtimeInSeconds: -30`},
		{"zero cores", `"coreCount": 4`, `"coreCount": 0`, `("work_3"): field coreCount: 0`},
		{"string runtime", `"runtimeInSeconds": 30,`, `"runtimeInSeconds": "30",`, "execution task #1: field runtimeInSeconds"},
		{"unknown execution id", `{"id": "work_2", "runtimeInSeconds": 20.25}`, `{"id": "work_9", "runtimeInSeconds": 20.25}`, `("work_9"): field id: no such specification task`},
		{"twice", `{"id": "work_2", "runtimeInSeconds": 20.25}`, `{"id": "work_1", "runtimeInSeconds": 20.25}`, "listed twice"},
		{"duplicate task", `"id": "work_2", "parents"`, `"id": "work_1", "parents"`, "also specification task #1"},
		{"cycle", `"parents": [], "children": ["work_1", "work_2", "work_3"]`, `"parents": ["join_1"], "children": ["work_1", "work_2", "work_3"]`, "cycle"},
		{"no workflow", `"workflow": {`, `"workflowz": {`, "field workflow: missing"},
		{"no specification", `"specification": {`, `"spec": {`, "workflow.specification: missing"},
		{"syntax", `"tasks": [`, `"tasks": [[`, "wfformat t"},
	} {
		in := strings.Replace(string(base), tc.old, tc.new, 1)
		if in == string(base) {
			t.Fatalf("%s: edit did not apply", tc.name)
		}
		_, err := ReadWfFormat(strings.NewReader(in), "t")
		if !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want ErrInvalid naming %q", tc.name, err, tc.want)
		}
	}
	// No execution section at all: every task defaulted, not an error.
	in := strings.Replace(string(base), `"execution": {`, `"executionz": {`, 1)
	w, err := ReadWfFormat(strings.NewReader(in), "t")
	if err != nil || w.Defaulted != (Defaulted{Cores: 5, Memory: 5, Runtime: 5}) {
		t.Errorf("no execution: %v, defaulted %+v", err, w.Defaulted)
	}
}

// The real traces of ../shared/traces, as its README lists them.
var realTraces = []struct {
	file    string
	tasks   int
	runtime float64 // summed task runtime, s
}{
	{"helloworld-forkjoin-10-chameleon.json", 10, 1029},
	{"1000genome-chameleon-2ch-100k-001.json", 52, 2771},
	{"blast-chameleon-small-001.json", 43, 383},
	{"epigenomics-chameleon-hep-1seq-100k-001.json", 41, 539},
	{"montage-chameleon-2mass-005d-001.json", 58, 222},
	{"rnaseq-dirt02-001.json", 197, 2580},
	{"seismology-chameleon-100p-001.json", 101, 72},
	{"srasearch-chameleon-10a-001.json", 22, 6997},
}

func sharedTraces(t testing.TB) string {
	dir, ok := FindTraces(".")
	if !ok {
		t.Skip("skipped: the real traces (../shared/traces beside the checkout) are not here")
	}
	return dir
}

func TestRealTraces(t *testing.T) {
	dir := sharedTraces(t)
	for _, rt := range realTraces {
		w, err := ReadTraceFile(filepath.Join(dir, rt.file))
		if err != nil {
			t.Errorf("%s: %v", rt.file, err)
			continue
		}
		if len(w.Tasks) != rt.tasks {
			t.Errorf("%s: %d tasks, want %d", rt.file, len(w.Tasks), rt.tasks)
		}
		var sum time.Duration
		edges := 0
		for _, t := range w.Tasks {
			sum += t.Duration
			edges += len(t.Deps)
		}
		if math.Abs(sum.Seconds()-rt.runtime) > 1 {
			t.Errorf("%s: summed runtime %.1f s, want %.0f", rt.file, sum.Seconds(), rt.runtime)
		}
		if len(w.Tasks) > 1 && edges == 0 {
			t.Errorf("%s: no dependencies read", rt.file)
		}
		if w.Defaulted.Runtime != 0 {
			t.Errorf("%s: %d runtimes defaulted", rt.file, w.Defaulted.Runtime)
		}
	}
	ws, err := ReadTraceDir(dir)
	if err != nil || len(ws) != len(realTraces) {
		t.Fatalf("ReadTraceDir: %d workloads, %v", len(ws), err)
	}
}

func FuzzReadWfFormat(f *testing.F) {
	b, err := os.ReadFile("testdata/forkjoin-wf.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"workflow":{"specification":{"tasks":[{"id":"a","parents":["a"]}]}}}`))
	f.Add([]byte(`{"workflow":{"specification":{"tasks":[{"id":"a"}]},"execution":{"tasks":[{"id":"a","runtimeInSeconds":1e400}]}}}`))
	if dir, ok := FindTraces("."); ok {
		if b, err := os.ReadFile(filepath.Join(dir, "helloworld-forkjoin-10-chameleon.json")); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := ReadWfFormat(bytes.NewReader(b), "fuzz")
		if err != nil {
			if !errors.Is(err, ebb.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if err := w.Validate(); err != nil {
			t.Fatalf("read a workload that does not validate: %v", err)
		}
	})
}
