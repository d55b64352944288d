package sim

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
)

func TestReadTraceFiles(t *testing.T) {
	var got []*Workload
	for _, f := range []string{"testdata/trace.csv", "testdata/trace.json"} {
		w, err := ReadTraceFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, w)
	}
	want := []Task{
		{ID: "prep", Duration: 30 * time.Second, Resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 2 << 30}},
		{ID: "align1", Arrival: 5 * time.Second, Duration: 2 * time.Minute, Resources: ebb.Resources{ebb.CPU: 4, ebb.Mem: 8 << 30}, Deps: []int{0}},
		{ID: "align2", Arrival: 5 * time.Second, Duration: 90 * time.Second, Resources: ebb.Resources{ebb.CPU: 4, ebb.Mem: 8 << 30}, Deps: []int{0}},
		{ID: "merge", Arrival: 5 * time.Second, Duration: time.Minute, Resources: ebb.Resources{ebb.CPU: 2}, Deps: []int{1, 2}},
	}
	for i, w := range got {
		if !reflect.DeepEqual(w.Tasks, want) {
			t.Errorf("file %d: tasks\n%+v\nwant\n%+v", i, w.Tasks, want)
		}
	}
	if got[0].Name != "trace" || got[0].Source != "testdata/trace.csv" {
		t.Errorf("name %q, source %q", got[0].Name, got[0].Source)
	}
}

func TestTraceRoundTrip(t *testing.T) {
	for _, n := range StandardNames() {
		w, _ := Standard(n, StdConfig{Tasks: 60, Seed: 5})
		for _, format := range []string{"csv", "json"} {
			var b bytes.Buffer
			write := WriteTraceCSV
			if format == "json" {
				write = WriteTraceJSON
			}
			if err := write(&b, w); err != nil {
				t.Fatal(err)
			}
			back, err := ReadTrace(&b, w.Name)
			if err != nil {
				t.Fatalf("%s %s: %v", n, format, err)
			}
			if !reflect.DeepEqual(back.Tasks, w.Tasks) {
				t.Errorf("%s %s: tasks differ after a round trip", n, format)
			}
		}
	}
}

func TestReadTraceErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "  \n", "empty"},
		{"no header", "# only a comment\n", "no header"},
		{"unknown column", "id,duration,resources,colour\n", `column "colour": unknown`},
		{"missing column", "id,duration\n", `column "resources": missing`},
		{"bad duration", "id,duration,resources\na,soon,cpu=1\n", `line 2 (task "a"): duration: "soon"`},
		{"negative arrival", "id,arrival,duration,resources\na,-1,1s,cpu=1\n", `line 2 (task "a"): arrival`},
		{"bad resources", "id,duration,resources\na,1s,cpu=lots\n", `line 2 (task "a"): resources`},
		{"no resources", "id,duration,resources\na,1s,\n", "needs nothing"},
		{"space in id", "id,duration,resources\na b,1s,cpu=1\n", "line 2: id"},
		{"unknown dep", "id,duration,resources,deps\na,1s,cpu=1,b\n", `deps: no task "b"`},
		{"duplicate", "id,duration,resources\na,1s,cpu=1\na,1s,cpu=1\n", "also line 2"},
		{"cycle", "id,duration,resources,deps\na,1s,cpu=1,b\nb,1s,cpu=1,a\n", "cycle"},
		{"bad quote", "id,duration,resources\n\"a,1s,cpu=1\n", "line"},
		{"json syntax", `{"tasks": [`, "JSON syntax"},
		{"json type", `{"tasks": [{"id": 3}]}`, "field id"},
		{"json duration", `[{"id": "a", "duration": true, "resources": "cpu=1"}]`, `task #0 ("a"): duration`},
		{"json missing duration", `[{"id": "a", "resources": "cpu=1"}]`, "duration: missing"},
		{"json resources", `[{"id": "a", "duration": 1, "resources": {"cpu": -1}}]`, "resources"},
		{"json huge", `[{"id": "a", "duration": 1e300, "resources": "cpu=1"}]`, "duration"},
	} {
		_, err := ReadTrace(strings.NewReader(tc.in), "t")
		if !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want ErrInvalid naming %q", tc.name, err, tc.want)
		}
	}
	if _, err := ReadTraceFile("testdata/no-such-file.csv"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("id,duration,resources\na,x,cpu=1\n"), 0o644)
	if _, err := ReadTraceFile(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("error %v does not name the file", err)
	}
	if err := WriteTraceCSV(&bytes.Buffer{}, &Workload{Tasks: []Task{{ID: "a b"}}}); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("WriteTraceCSV with a space in an ID: err = %v", err)
	}
}

func FuzzReadTrace(f *testing.F) {
	for _, p := range []string{"testdata/trace.csv", "testdata/trace.json"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("id,duration,resources,deps\na,1s,cpu=1,a\n"))
	f.Add([]byte(`[{"id":"a","duration":1,"resources":{"cpu":1e308}}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := ReadTrace(bytes.NewReader(b), "fuzz")
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
