package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/repository"
	"github.com/ebbflow/ebb/runner"
	"github.com/opencontainers/go-digest"
)

// runEbb runs the command in dir and returns its exit code and output.
func runEbb(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	defer os.Chdir(wd)
	var stdout, stderr bytes.Buffer
	code := mainCode(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestRunResumeState(t *testing.T) {
	flow, err := filepath.Abs("../../examples/wordcount.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	code, out, errs := runEbb(t, dir, "run", "-quiet", "-outputs", "out", flow)
	if code != 0 {
		t.Fatalf("ebb run exited %d:\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "4 tasks, 4 run, 0 from the cache") || !strings.Contains(out, "total/total") {
		t.Errorf("ebb run printed:\n%s", out)
	}
	total, err := os.ReadFile(filepath.Join(dir, "out", "total", "total"))
	if err != nil || strings.TrimSpace(string(total)) != "51" {
		t.Errorf("output total = %q, %v; want 51", total, err)
	}

	code, out, _ = runEbb(t, dir, "state", ".ebb/state.json")
	if code != 0 || !strings.Contains(out, "phase    done") || !strings.Contains(out, "4 tasks: 4 run") {
		t.Errorf("ebb state exited %d:\n%s", code, out)
	}
	code, out, _ = runEbb(t, dir, "state", "-json", ".ebb/state.json")
	if code != 0 || !strings.Contains(out, `"phase": "done"`) {
		t.Errorf("ebb state -json exited %d:\n%s", code, out)
	}

	// Resuming a finished run has nothing to do; running again takes
	// everything from the cache.
	code, out, errs = runEbb(t, dir, "resume", "-quiet", ".ebb/state.json")
	if code != 0 || !strings.Contains(out, "4 tasks, 4 run") {
		t.Errorf("ebb resume exited %d:\n%s%s", code, out, errs)
	}
	code, out, errs = runEbb(t, dir, "run", "-quiet", flow)
	if code != 0 || !strings.Contains(out, "0 run, 1 from the cache, 3 not needed") {
		t.Errorf("second ebb run exited %d:\n%s%s", code, out, errs)
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		says string
	}{
		{"no args", []string{"run"}, 2, "want one flow file"},
		{"missing file", []string{"run", filepath.Join(dir, "nope.yaml")}, 1, "no such file"},
		{"unknown field", []string{"run", write("typo.yaml", "tasks:\n  - name: a\n    argvv: [true]\n")}, 1, `unknown field "argvv"`},
		{"bad resources", []string{"run", write("res.yaml", "tasks:\n  - name: a\n    argv: [echo]\n    resources: cpu=-1\n")}, 1, "cpu"},
		{"bad flow", []string{"run", write("cycle.yaml", "tasks:\n  - {name: a, argv: [echo], after: [b]}\n  - {name: b, argv: [echo], after: [a]}\n")}, 1, `cycle: "a" → "b" → "a"`},
		{"task name climbs", []string{"run", "-outputs", "out", write("climb.yaml", "tasks:\n  - {name: ../../x, argv: [echo], outputs: [o]}\n")}, 1, `task 0: name "../../x": path separators`},
		{"no tasks", []string{"run", write("empty.yaml", "name: x\n")}, 1, "no tasks"},
		{"unknown command", []string{"fly"}, 2, `unknown command "fly"`},
		{"state of nothing", []string{"state", filepath.Join(dir, "none.json")}, 1, "does not exist"},
	} {
		code, out, errs := runEbb(t, dir, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.says) {
			t.Errorf("%s: ebb %q exited %d, printed:\n%s%s\nwant exit %d saying %q", tc.name, tc.args, code, out, errs, tc.code, tc.says)
		}
	}
}

// YAML 1.2: an output named n is a name, not a boolean.
// A flow file's kind and estimate reach the tasks.
func TestFlowFileKindEstimate(t *testing.T) {
	f, err := parseFlow([]byte("tasks:\n  - name: a-1\n    argv: [bwa]\n    kind: align\n    estimate: 20m\n  - name: b\n    argv: [echo]\n"), "/data", "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if a := f.Tasks[0]; a.Kind != "align" || a.Estimate != 20*time.Minute || a.KindName() != "align" {
		t.Errorf("task a-1: kind %q, estimate %v", a.Kind, a.Estimate)
	}
	if b := f.Tasks[1]; b.Kind != "" || b.Estimate != 0 || b.KindName() != "echo:b" {
		t.Errorf("task b: kind %q (%s), estimate %v", b.Kind, b.KindName(), b.Estimate)
	}
}

// A flow file's timeout reaches its task.
func TestFlowFileTimeout(t *testing.T) {
	f, err := parseFlow([]byte("tasks:\n  - name: a\n    argv: [bwa]\n    timeout: 90s\n    attempts: 2\n  - name: b\n    argv: [echo]\n"), "/data", "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if a, b := f.Tasks[0], f.Tasks[1]; a.Timeout != 90*time.Second || a.Attempts != 2 || b.Timeout != 0 {
		t.Errorf("timeouts %v and %v, want 1m30s and 0", a.Timeout, b.Timeout)
	}
}

func TestFlowFileYAML12(t *testing.T) {
	f, err := parseFlow([]byte("tasks:\n  - name: a\n    argv: [echo]\n    outputs: [n, no, yes, on]\n"), "/data", "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.Tasks[0].Outputs, ","); got != "n,no,yes,on" {
		t.Errorf("outputs = %q", got)
	}
}

// A state file that says done but holds no result is refused, not
// resumed into a panic.
func TestResumeDoneWithoutResult(t *testing.T) {
	flow, err := filepath.Abs("../../examples/wordcount.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if code, out, errs := runEbb(t, dir, "run", "-quiet", flow); code != 0 {
		t.Fatalf("ebb run exited %d:\n%s%s", code, out, errs)
	}
	path := filepath.Join(dir, ".ebb", "state.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	delete(s, "result")
	b, _ = json.Marshal(s)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runEbb(t, dir, "resume", "-quiet", ".ebb/state.json")
	if code != 1 || !strings.Contains(errs, "neither a result nor an err") {
		t.Errorf("ebb resume exited %d:\n%s%s\nwant exit 1 saying the state has no result", code, out, errs)
	}
}

// An output whose name would climb out of -outputs DIR is neither written
// nor removed there.
func TestOutputsStayInsideDir(t *testing.T) {
	dir := t.TempDir()
	repo, err := repository.Open(filepath.Join(dir, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := repo.Put(t.Context(), strings.NewReader("overwritten"))
	if err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(dir, "out", "here")
	for _, name := range []string{"../../victim", "../../../" + filepath.Base(dir) + "/victim", "/" + victim[1:], "a/../../../victim"} {
		s := runner.State{ID: digest.FromString("run"), Phase: runner.PhaseDone, Result: &runner.Result{Outputs: map[string]digest.Digest{name: d}}}
		err := summarize(t.Context(), io.Discard, s, repo, outDir, 0)
		if !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), fmt.Sprintf("output %q", name)) {
			t.Errorf("output %q: summarize = %v, want ErrInvalid naming the output", name, err)
		}
		if b, err := os.ReadFile(victim); string(b) != "precious" {
			t.Fatalf("output %q: the file outside DIR now holds %q, %v", name, b, err)
		}
	}
}

// stuckCloser is a pool whose Close waits for its context.
type stuckCloser struct{ closed chan struct{} }

func (s stuckCloser) Close(ctx context.Context) error {
	<-ctx.Done()
	close(s.closed)
	return ctx.Err()
}

// Closing the pool on the way out is bounded, even if the pool never
// finishes, and still given its time when the run was interrupted.
func TestCloseBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, interrupt := context.WithCancel(t.Context())
		interrupt()
		start := time.Now()
		s := stuckCloser{closed: make(chan struct{})}
		err := closeBounded(ctx, s, time.Minute)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("closeBounded = %v, want DeadlineExceeded", err)
		}
		if got := time.Since(start); got != time.Minute {
			t.Errorf("closeBounded returned after %v, want 1m", got)
		}
	})
}

// Flow file errors name the task at fault and its line, and never quote
// the file's content beyond the fields they name.
func TestFlowFileErrors(t *testing.T) {
	const secret = "hunter2-secret"
	for _, tc := range []struct {
		name, content string
		says          []string
	}{
		{"tag", "!!int " + secret + "\n", []string{"cannot decode"}},
		{"alias", "*" + secret + "\n", []string{"unknown anchor"}},
		{"quoted", "tasks: [`" + secret + "`]\n", []string{"x.yaml"}},
		{"not a flow", "API_KEY=" + secret + "\n", []string{"x.yaml"}},
		{"unknown field", "tasks:\n  - name: a\n    argv: [echo]\n  - name: b\n    argvv: [echo]\n", []string{`task 1 "b" (line 4)`, `unknown field "argvv"`}},
		{"wrong type", "tasks:\n  - name: a\n    argv: [echo]\n\n  - name: b\n    argv: " + secret + "\n", []string{`task 1 "b" (line 5)`, "argv"}},
		{"bad resources", "tasks:\n  - name: a\n    argv: [echo]\n    resources: cpu=lots\n", []string{`task 0 "a" (line 2)`, `quantity "lots"`}},
		{"json", `{"tasks": [{"name": "a", "argv": ["x"]},` + "\n" + `{"name": "b", "argv": 3}]}`, []string{`task 1 "b" (line 2)`}},
		{"bad estimate", "tasks:\n  - name: a\n    argv: [echo]\n    estimate: soon\n", []string{`task 0 "a" (line 2)`, `estimate "soon"`}},
		{"negative estimate", "tasks:\n  - name: a\n    argv: [echo]\n    estimate: -5m\n", []string{`estimate "-5m"`}},
		{"bad timeout", "tasks:\n  - name: a\n    argv: [echo]\n    timeout: forever\n", []string{`task 0 "a" (line 2)`, `timeout "forever"`}},
		{"negative timeout", "tasks:\n  - name: a\n    argv: [echo]\n    timeout: -1s\n", []string{`timeout "-1s"`}},
	} {
		_, err := parseFlow([]byte(tc.content), "/data", "x.yaml")
		if !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", tc.name, err)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error shows the file's content: %v", tc.name, err)
		}
		for _, want := range tc.says {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %v, want it to say %s", tc.name, err, want)
			}
		}
	}
}
