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
		{ID: "split_1", Kind: "split", Duration: 10500 * time.Millisecond, Resources: ebb.Resources{ebb.CPU: 2, ebb.Mem: 1 << 20}},
		{ID: "work_1", Kind: "work", Duration: 30 * time.Second, Resources: ebb.Resources{ebb.CPU: 1}, Deps: []int{0}},
		{ID: "work_2", Kind: "work", Duration: 20250 * time.Millisecond, Resources: ebb.Resources{ebb.CPU: 1}, Deps: []int{0}},
		// Its parents say none; split_1's children list it.
		{ID: "work_3", Kind: "work", Resources: ebb.Resources{ebb.CPU: 4}, Deps: []int{0}},
		{ID: "join_1", Kind: "join", Duration: 40 * time.Second, Resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 2 << 20}, Deps: []int{1, 2, 3}},
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

// A task's kind is its name without Pegasus's ID suffix and without its
// trailing number, its other numbers written "#", as ebb names a task's
// kind: a workflow that numbers its tasks by input (one split per lane,
// one filter per chunk) groups them by step, not one kind per task or
// per lane.
func TestReadWfFormatKinds(t *testing.T) {
	const doc = `{"schemaVersion": "1.5", "workflow": {
	  "specification": {"tasks": [
	    {"name": "fastqSplit_s_1_sequence_ID0000001", "id": "a", "parents": [], "children": ["b", "c"]},
	    {"name": "filter_s_1_sequence_1_ID0000002", "id": "b", "parents": ["a"], "children": ["d"]},
	    {"name": "filter_s_2_sequence_1_ID0000003", "id": "c", "parents": ["a"], "children": ["d"]},
	    {"name": "NFCORE_RNASEQ.RNASEQ.MULTIQC", "id": "d", "parents": ["b", "c"], "children": []},
	    {"id": "merge_7", "parents": [], "children": []}
	  ]},
	  "execution": {"tasks": [
	    {"id": "a", "runtimeInSeconds": 1}, {"id": "b", "runtimeInSeconds": 1},
	    {"id": "c", "runtimeInSeconds": 1}, {"id": "d", "runtimeInSeconds": 1},
	    {"id": "merge_7", "runtimeInSeconds": 1}
	  ]}}}`
	w, err := ReadWfFormat(strings.NewReader(doc), "lanes")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, task := range w.Tasks {
		kinds = append(kinds, task.Kind)
	}
	want := []string{"fastqSplit_s_#_sequence", "filter_s_#_sequence", "filter_s_#_sequence", "NFCORE_RNASEQ.RNASEQ.MULTIQC", "merge"}
	if !reflect.DeepEqual(kinds, want) {
		t.Errorf("kinds %q, want %q", kinds, want)
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
	// No execution section, or one that records no task: an error, not
	// a workload whose tasks all take 0 s.
	for _, edit := range [][2]string{
		{`"execution": {`, `"executionz": {`},
		{`"tasks": [
        {"id": "split_1"`, `"tasks": [], "x": [
        {"id": "split_1"`},
	} {
		in := strings.Replace(string(base), edit[0], edit[1], 1)
		if in == string(base) {
			t.Fatalf("edit %q did not apply", edit[0])
		}
		_, err := ReadWfFormat(strings.NewReader(in), "t")
		if !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), "field workflow.execution") {
			t.Errorf("no execution records: err = %v, want ErrInvalid naming workflow.execution", err)
		}
	}
}

// The three layouts read to the same workload: 1.5, 1.6 (1.5's layout),
// and 1.4 (flat workflow.tasks, named by name, cores in "cores").
func TestReadWfFormatVersions(t *testing.T) {
	want, err := ReadTraceFile("testdata/forkjoin-wf.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"testdata/forkjoin-wf16.json", "testdata/forkjoin-wf14.json"} {
		w, err := ReadTraceFile(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if !reflect.DeepEqual(w.Tasks, want.Tasks) || w.Defaulted != want.Defaulted {
			t.Errorf("%s: tasks\n%+v\n%+v\nwant\n%+v\n%+v", f, w.Tasks, w.Defaulted, want.Tasks, want.Defaulted)
		}
	}
}

// With CoresAvgCPU a task holds the cores it kept busy on average,
// rounded up, at least one; without avgCPU it keeps its core count.
func TestReadWfFormatAvgCPU(t *testing.T) {
	for _, f := range []string{"testdata/forkjoin-wf.json", "testdata/forkjoin-wf14.json"} {
		w, err := TraceReader{Cores: CoresAvgCPU}.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var got []float64
		for _, t := range w.Tasks {
			got = append(got, t.Resources[ebb.CPU])
		}
		// split 95 % → 1 (count 2 ignored); work_1 180 % (1.4 file) → 2,
		// none (1.5 file) → 1 defaulted; work_2 none → 1; work_3 0 % → 1
		// (1.4) or count 4 (1.5, no avgCPU); join none → count 1.
		want := []float64{1, 1, 1, 4, 1}
		if strings.Contains(f, "wf14") {
			want = []float64{1, 2, 1, 1, 1}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: cpu %v, want %v", f, got, want)
		}
	}
	if _, err := ParseCoreSource("avg"); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("ParseCoreSource(avg) = %v", err)
	}
	if c, err := ParseCoreSource("AvgCPU"); c != CoresAvgCPU || err != nil {
		t.Errorf("ParseCoreSource(AvgCPU) = %q, %v", c, err)
	}
}

// Each bad file gives an error that wraps ErrInvalid and names the file
// and the field.
func TestReadWfFormatBadFiles(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"noexec.json", "field workflow.execution: missing"},
		{"malformed.json", "not JSON: line 12, column"},
		{"negative.json", `execution task #1 ("b"): field runtimeInSeconds: -3.5 out of range`},
		{"negative14.json", `task #0 ("a"): field cores: -2 out of range`},
		{"schema13.json", `field schemaVersion: "1.3": not supported`},
	} {
		p := filepath.Join("testdata", "wfbad", tc.file)
		_, err := ReadTraceFile(p)
		if !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want ErrInvalid naming the file and %q", tc.file, err, tc.want)
		}
	}
	// A directory holding them names every one.
	_, err := ReadTraceDir(filepath.Join("testdata", "wfbad"))
	for _, f := range []string{"noexec.json", "malformed.json", "negative.json", "negative14.json", "schema13.json"} {
		if err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("ReadTraceDir: err = %v, want it to name %s", err, f)
		}
	}
}

// The real traces of ../shared/traces, as its README lists them: the
// tasks and summed task runtime of each file that is there. Files not
// listed are read too, and must read.
var realTraces = map[string]struct {
	tasks   int
	runtime float64 // summed task runtime, s
}{
	"helloworld-forkjoin-10-chameleon.json":        {10, 1029},
	"1000genome-chameleon-2ch-100k-001.json":       {52, 2771},
	"blast-chameleon-small-001.json":               {43, 383},
	"epigenomics-chameleon-hep-1seq-100k-001.json": {41, 539},
	"montage-chameleon-2mass-005d-001.json":        {58, 222},
	"rnaseq-dirt02-001.json":                       {197, 2580},
	"seismology-chameleon-100p-001.json":           {101, 72},
	"srasearch-chameleon-10a-001.json":             {22, 6997},
	"airrflow-dirt02-001.json":                     {212, 3330},
	"chipseq-dirt02-001.json":                      {210, 5096},
	"smrnaseq-dirt02-001.json":                     {197, 7300},
	"blast-chameleon-medium-001.json":              {303, 31513},
	"1000genome-chameleon-22ch-100k-001.json":      {572, 38867},
	"epigenomics-chameleon-hep-7seq-50k-001.json":  {1121, 22554},
	"montage-chameleon-2mass-05d-001.json":         {1738, 8695},
	"soykb-chameleon-20fastq-20ch-001.json":        {286, 47970},
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
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	known := 0
	for _, p := range paths {
		file := filepath.Base(p)
		w, err := ReadTraceFile(p)
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		rt, ok := realTraces[file]
		if !ok {
			t.Logf("%s: %d tasks (not in the table: only read)", file, len(w.Tasks))
			continue
		}
		known++
		if len(w.Tasks) != rt.tasks {
			t.Errorf("%s: %d tasks, want %d", file, len(w.Tasks), rt.tasks)
		}
		var sum time.Duration
		edges := 0
		for _, t := range w.Tasks {
			sum += t.Duration
			edges += len(t.Deps)
		}
		if math.Abs(sum.Seconds()-rt.runtime) > 1 {
			t.Errorf("%s: summed runtime %.1f s, want %.0f", file, sum.Seconds(), rt.runtime)
		}
		if len(w.Tasks) > 1 && edges == 0 {
			t.Errorf("%s: no dependencies read", file)
		}
		if w.Defaulted.Runtime != 0 {
			t.Errorf("%s: %d runtimes defaulted", file, w.Defaulted.Runtime)
		}
		if w.Tasks[0].Kind == "" {
			t.Errorf("%s: task %s has no kind", file, w.Tasks[0].ID)
		}
	}
	if known == 0 {
		t.Skipf("skipped: none of the known traces is in %s", dir)
	}
	ws, err := ReadTraceDir(dir)
	if err != nil || len(ws) != len(paths) {
		t.Fatalf("ReadTraceDir: %d workloads of %d files, %v", len(ws), len(paths), err)
	}
	if err := CheckDistinct(ws); err != nil {
		t.Error(err)
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

// One trace given twice, under its name or another, is refused.
func TestCheckDistinct(t *testing.T) {
	a, err := ReadTraceFile("testdata/forkjoin-wf.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ReadTraceFile("testdata/forkjoin-wf.json")
	c, _ := ReadTraceFile("testdata/forkjoin-wf16.json") // same tasks, another name
	d, _ := ReadTraceFile("testdata/trace.json")
	if err := CheckDistinct([]*Workload{a, d}); err != nil {
		t.Errorf("distinct: %v", err)
	}
	for _, tc := range []struct {
		ws   []*Workload
		want string
	}{
		{[]*Workload{a, d, b}, "workload forkjoin-wf (testdata/forkjoin-wf.json): given twice"},
		{[]*Workload{a, c}, "workload forkjoin-wf16 (testdata/forkjoin-wf16.json): same tasks as forkjoin-wf (testdata/forkjoin-wf.json)"},
	} {
		err := CheckDistinct(tc.ws)
		if !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want ErrInvalid with %q", err, tc.want)
		}
	}
	_, err = Suite{Workloads: []*Workload{a, c}, Policies: []PolicySpec{mustPolicy(t, "static")}}.Run(t.Context())
	if !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), "same tasks") {
		t.Errorf("Suite.Run: %v", err)
	}
}

func mustPolicy(t *testing.T, spec string) PolicySpec {
	t.Helper()
	ps, err := ParsePolicy(spec)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}
