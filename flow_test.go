package ebb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

func pipeline() *Flow {
	return &Flow{Name: "wc", Tasks: []Task{
		{Name: "split", Argv: []string{"split", "-n", "2", "in"}, Inputs: []Input{{Name: "in", Path: "/data/in.txt"}}, Outputs: []string{"xaa", "xab"}},
		{Name: "count-a", Argv: []string{"wc", "-w", "a"}, Inputs: []Input{{Name: "a", Task: "split", Output: "xaa"}}, Outputs: []string{"n"}},
		{Name: "count-b", Argv: []string{"wc", "-w", "b"}, Inputs: []Input{{Name: "b", Task: "split", Output: "xab"}}, Outputs: []string{"n"}},
		{Name: "sum", Func: func(context.Context, FuncEnv) error { return nil }, FuncKey: "sum/v1",
			Inputs:    []Input{{Name: "a", Task: "count-a", Output: "n"}, {Name: "b", Task: "count-b", Output: "n"}},
			Resources: Resources{CPU: 2}},
	}}
}

var paths = map[string]digest.Digest{"/data/in.txt": digest.FromString("hello world")}

func TestGraph(t *testing.T) {
	g, err := pipeline().Graph()
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Deps(3); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Errorf("sum deps = %v, want [1 2]", got)
	}
	pos := map[int32]int{}
	for k, i := range g.Order {
		pos[i] = k
	}
	for i := range int32(len(g.Flow.Tasks)) {
		for _, d := range g.Deps(i) {
			if pos[d] >= pos[i] {
				t.Errorf("order %v puts task %d before its dependency %d", g.Order, i, d)
			}
		}
	}
	if got, want := g.Requirements(), (Requirements{Min: Resources{CPU: 2}, Width: 2}); !got.Equal(want) {
		t.Errorf("Requirements = %v, want %v", got, want)
	}
	if got := pipeline().Paths(); len(got) != 1 || got[0] != "/data/in.txt" {
		t.Errorf("Paths = %q", got)
	}
}

func digests(t *testing.T, f *Flow) []digest.Digest {
	t.Helper()
	g, err := f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	d, err := g.Digests(paths)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDigestsFollowWhatDeterminesResults(t *testing.T) {
	base := digests(t, pipeline())
	seen := map[digest.Digest]bool{}
	for _, d := range base {
		if seen[d] {
			t.Errorf("two tasks share digest %s", d)
		}
		seen[d] = true
	}
	for _, tc := range []struct {
		name    string
		change  func(f *Flow)
		changed []bool // which task digests must change
	}{
		{"rename", func(f *Flow) { f.Tasks[1].Name = "count-first"; f.Tasks[3].Inputs[0].Task = "count-first" }, []bool{false, false, false, false}},
		{"resources", func(f *Flow) { f.Tasks[0].Resources = Resources{Mem: 1 << 30} }, []bool{false, false, false, false}},
		{"attempts", func(f *Flow) { f.Tasks[2].Attempts = 3 }, []bool{false, false, false, false}},
		{"timeout", func(f *Flow) { f.Tasks[2].Timeout = time.Hour }, []bool{false, false, false, false}},
		{"env order", func(f *Flow) { f.Tasks[1].Env = []string{"B=1", "A=2"} }, []bool{false, true, false, true}},
		{"command", func(f *Flow) { f.Tasks[1].Argv = []string{"wc", "-l", "a"} }, []bool{false, true, false, true}},
		{"root input", func(f *Flow) { f.Tasks[0].Inputs[0].Path = "/data/other.txt" }, []bool{true, true, true, true}},
		{"func key", func(f *Flow) { f.Tasks[3].FuncKey = "sum/v2" }, []bool{false, false, false, true}},
		{"output used", func(f *Flow) {
			f.Tasks[0].Outputs = []string{"xab", "xaa"}
		}, []bool{true, true, true, true}},
	} {
		f := pipeline()
		tc.change(f)
		p := map[string]digest.Digest{"/data/in.txt": paths["/data/in.txt"], "/data/other.txt": digest.FromString("other")}
		g, err := f.Graph()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := g.Digests(p)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for i := range got {
			if (got[i] != base[i]) != tc.changed[i] {
				t.Errorf("%s: task %q digest changed = %v, want %v", tc.name, f.Tasks[i].Name, got[i] != base[i], tc.changed[i])
			}
		}
	}
	// Env order does not matter, env content does.
	a, b := pipeline(), pipeline()
	a.Tasks[1].Env = []string{"A=2", "B=1"}
	b.Tasks[1].Env = []string{"B=1", "A=2"}
	if digests(t, a)[1] != digests(t, b)[1] {
		t.Error("env order changes the digest")
	}
}

func TestDigestsNeedPaths(t *testing.T) {
	g, err := pipeline().Graph()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Digests(nil); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "/data/in.txt") {
		t.Errorf("Digests without the path's digest: %v", err)
	}
}

func TestFlowProblems(t *testing.T) {
	f := &Flow{Name: "bad", Tasks: []Task{
		{Name: "", Argv: []string{"true"}},
		{Name: "dup", Argv: []string{"true"}},
		{Name: "dup", Argv: []string{"true"}},
		{Name: "empty"},
		{Name: "both", Argv: []string{"x"}, Func: func(context.Context, FuncEnv) error { return nil }},
		{Name: "nokey", Func: func(context.Context, FuncEnv) error { return nil }},
		{Name: "res", Argv: []string{"x"}, Resources: Resources{CPU: -1}},
		{Name: "orphan", Argv: []string{"x"}, Inputs: []Input{{Name: "in", Task: "ghost", Output: "o"}}},
		{Name: "noout", Argv: []string{"x"}, Inputs: []Input{{Name: "in", Task: "res", Output: "o"}}},
		{Name: "twosrc", Argv: []string{"x"}, Inputs: []Input{{Name: "in", Path: "/p", Digest: digest.FromString("x")}}},
		{Name: "abs", Argv: []string{"x"}, Outputs: []string{"/etc/passwd", "../up"}},
		{Name: "after", Argv: []string{"x"}, After: []string{"nobody"}},
		{Name: "timeout", Argv: []string{"x"}, Timeout: -time.Second},
	}}
	err := f.Validate()
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Validate = %v, want ErrInvalid", err)
	}
	var fe *FlowError
	if !errors.As(err, &fe) {
		t.Fatalf("Validate = %T, want *FlowError", err)
	}
	for _, want := range []string{
		`task 0: name ""`, `name used by tasks 1 and 2`, `task "empty": no command`, `task "both": both argv and func`,
		`task "nokey": func without func_key`, `task "res": resource cpu=-1`, `no task named "ghost"`,
		`task "res" has no output "o"`, `want exactly one source`, `output "/etc/passwd"`, `output "../up"`,
		`task "after": after: no task named "nobody"`, `task "timeout": timeout -1s: must not be negative`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %s:\n%v", want, err)
		}
	}
	if len(fe.Problems) != 13 {
		t.Errorf("%d problems, want 13:\n%v", len(fe.Problems), err)
	}
}

func TestFlowCycles(t *testing.T) {
	task := func(name string, after ...string) Task {
		return Task{Name: name, Argv: []string{"true"}, After: after}
	}
	f := &Flow{Name: "cyclic", Tasks: []Task{
		task("a", "c"), task("b", "a"), task("c", "b"), // a → b → c → a
		task("d"), task("e", "d", "f"), task("f", "e"), // e ↔ f
		task("g", "a"), // downstream of a cycle, not in one
	}}
	err := f.Validate()
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Validate = %v, want ErrInvalid", err)
	}
	msg := err.Error()
	if strings.Count(msg, "cycle:") != 2 {
		t.Errorf("want two cycles reported:\n%s", msg)
	}
	for _, want := range []string{`"a" → "b" → "c" → "a"`, `"e" → "f" → "e"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("want cycle %s in:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, `"g"`) || strings.Contains(msg, `"d"`) {
		t.Errorf("tasks outside the cycles named:\n%s", msg)
	}
	self := &Flow{Tasks: []Task{task("s", "s")}}
	if err := self.Validate(); err == nil || !strings.Contains(err.Error(), "depends on itself") {
		t.Errorf("self dependency: %v", err)
	}
}

func FuzzFlowGraph(f *testing.F) {
	f.Add([]byte{0, 1, 1, 2, 2, 0}, uint8(3))
	f.Add([]byte{}, uint8(1))
	f.Fuzz(func(t *testing.T, edges []byte, n uint8) {
		n = n%16 + 1
		flow := &Flow{}
		for i := range int(n) {
			flow.Tasks = append(flow.Tasks, Task{Name: string(rune('a' + i)), Argv: []string{"true"}})
		}
		for k := 0; k+1 < len(edges); k += 2 {
			from, to := int(edges[k])%int(n), int(edges[k+1])%int(n)
			flow.Tasks[from].After = append(flow.Tasks[from].After, flow.Tasks[to].Name)
		}
		g, err := flow.Graph()
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if len(g.Order) != int(n) {
			t.Fatalf("order %v has %d tasks, want %d", g.Order, len(g.Order), n)
		}
		pos := make([]int, n)
		for k, i := range g.Order {
			pos[i] = k
		}
		for i := range int32(n) {
			for _, d := range g.Deps(i) {
				if pos[d] >= pos[i] {
					t.Fatalf("task %d ordered before its dependency %d", i, d)
				}
			}
		}
	})
}

// A task's name becomes a directory under ebb run -outputs: one that
// could climb out of it is refused, naming the field and the value.
func TestTaskNameIsOnePathElement(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"count-a", true},
		{"a.b", true},
		{"..a", true},
		{"", false},
		{".", false},
		{"..", false},
		{"../../x", false},
		{"a/b", false},
		{"/abs", false},
		{`..\x`, false},
		{`a\b`, false},
	} {
		f := &Flow{Tasks: []Task{{Name: tc.name, Argv: []string{"true"}}}}
		err := f.Validate()
		if tc.ok {
			if err != nil {
				t.Errorf("task name %q: %v", tc.name, err)
			}
			continue
		}
		if want := fmt.Sprintf("task 0: name %q", tc.name); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("task name %q: Validate = %v, want ErrInvalid saying %s", tc.name, err, want)
		}
	}
}

// TestGraphAllocs guards that validating and indexing a chain of tasks
// takes a fixed number of allocations, not one or more a task (each
// task's dependencies share one array, and so do their dependents).
func TestGraphAllocs(t *testing.T) {
	const n = 2000
	f := &Flow{Name: "chain", Tasks: make([]Task, n)}
	for i := range f.Tasks {
		f.Tasks[i] = Task{Name: fmt.Sprintf("t%d", i), Argv: []string{"true"}}
		if i > 0 {
			f.Tasks[i].After = []string{f.Tasks[i-1].Name}
		}
	}
	allocs := testing.AllocsPerRun(3, func() {
		if _, err := f.Graph(); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("Graph of a chain of %d tasks: %.0f allocations", n, allocs)
	if allocs > 100 {
		t.Errorf("Graph of a chain of %d tasks: %.0f allocations, want at most 100", n, allocs)
	}
}

// TestValidNameOneScan: validName's one pass over the bytes finds what
// a scan of the runes for control characters and then one for path
// separators would, in that order, on every name of up to four bytes
// from an alphabet of controls, separators, DEL, the bytes of a
// two-byte rune, a stray continuation byte, dots and a letter.
func TestValidNameOneScan(t *testing.T) {
	want := func(name string) string {
		switch {
		case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			return "control characters not allowed"
		case strings.ContainsAny(name, `/\`):
			return "path separators not allowed"
		case name == "." || name == "..":
			return "not a file name"
		}
		return ""
	}
	alphabet := []string{"\x00", "\x1f", "\x7f", "/", `\`, "\xc3", "\xa9", "\x80", ".", "a", " "}
	var all func(name string, n int)
	all = func(name string, n int) {
		if name != "" {
			got := ""
			if err := validName(name); err != nil {
				got = err.Error()
			}
			if w := want(name); got != w {
				t.Errorf("validName(%q) = %q, want %q", name, got, w)
			}
		}
		if n > 0 {
			for _, c := range alphabet {
				all(name+c, n-1)
			}
		}
	}
	all("", 4)
}

// TestGraphSharedResources: a Resources map that tasks share is checked
// and counted once, and a map of another task, even of the same size,
// is checked and counted on its own.
func TestGraphSharedResources(t *testing.T) {
	f := func(context.Context, FuncEnv) error { return nil }
	shared := Resources{CPU: 1}
	flow := &Flow{Name: "r", Tasks: []Task{
		{Name: "a", Func: f, FuncKey: "a", Resources: shared},
		{Name: "b", Func: f, FuncKey: "b", Resources: shared},
		{Name: "c", Func: f, FuncKey: "c", Resources: Resources{CPU: 3}},
	}}
	g, err := flow.Graph()
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Requirements().Min; !got.Equal(Resources{CPU: 3}) {
		t.Errorf("Requirements().Min = %v, want 3 cpu", got)
	}
	flow.Tasks[2].Resources = Resources{CPU: -1}
	if _, err := flow.Graph(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `task "c"`) {
		t.Errorf("Graph with task c's cpu -1: %v, want task c invalid", err)
	}
	if !sameMap(shared, shared) || !sameMap(nil, nil) || sameMap(shared, Resources{CPU: 1}) || sameMap(nil, Resources{}) {
		t.Error("sameMap tells maps apart by content, not identity")
	}
}
