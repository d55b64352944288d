package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const eventsFlow = `name: events
tasks:
  - name: one
    argv: [sh, -c, "echo 1 > n"]
    env: [PATH=/usr/bin:/bin]
    resources: cpu=0.5
    outputs: [n]
  - name: two
    argv: [sh, -c, "cat a > n"]
    env: [PATH=/usr/bin:/bin]
    resources: cpu=0.5
    inputs:
      - {name: a, task: one, output: n}
    outputs: [n]
  - name: three
    argv: [sh, -c, "cat a a > n"]
    env: [PATH=/usr/bin:/bin]
    resources: cpu=0.5
    inputs:
      - {name: a, task: one, output: n}
    outputs: [n]
`

// readEvents returns the lines of an events file, each decoded as an
// object, and fails the test on a line that is not one.
func readEvents(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d: %v: %s", len(out)+1, err, sc.Text())
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

var snake = regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)

func TestRunWritesEvents(t *testing.T) {
	dir := t.TempDir()
	flow := filepath.Join(dir, "flow.yaml")
	if err := os.WriteFile(flow, []byte(eventsFlow), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runEbb(t, dir, "run", "-quiet", "-events", "first.jsonl", flow)
	if code != 0 {
		t.Fatalf("ebb run exited %d:\n%s%s", code, out, errs)
	}
	evs := readEvents(t, filepath.Join(dir, "first.jsonl"))
	stories := map[string][]string{}
	var last time.Time
	for i, ev := range evs {
		for k := range ev {
			if !snake.MatchString(k) {
				t.Errorf("line %d: field %q is not snake_case", i+1, k)
			}
		}
		ts, _ := ev["time"].(string)
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || !regexp.MustCompile(`\.\d{9}Z$`).MatchString(ts) {
			t.Errorf("line %d: time %q: want RFC 3339 with nanoseconds (%v)", i+1, ts, err)
		}
		if at.Before(last) && ev["kind"] != "stealer" {
			t.Errorf("line %d: time %s before the line before's %s", i+1, at, last)
		}
		last = at
		task, _ := ev["task"].(string)
		if task == "" {
			continue
		}
		kind := ev["kind"].(string)
		stories[task] = append(stories[task], kind)
		switch kind {
		case "started":
			if ev["alloc_id"] == "" || ev["pool"] == "" || ev["digest"] == "" {
				t.Errorf("line %d: started without where: %v", i+1, ev)
			}
		case "finished":
			if ev["cached"] != false || ev["exit_code"] != 0.0 || ev["duration_seconds"] == nil {
				t.Errorf("line %d: finished: %v; want cached false, exit code 0 and a duration", i+1, ev)
			}
		case "stage-in", "stage-out":
			// The bytes are the files': "1\n" from one, its copy from
			// two, and twice it from three.
			want := map[string]float64{"stage-in": 2, "stage-out": 2}
			if kind == "stage-out" && task == "three" {
				want[kind] = 4
			}
			files, _ := ev["files"].([]any)
			if ev["bytes"] != want[kind] || len(files) != 1 || ev["duration_seconds"] == nil {
				t.Errorf("line %d: %s of %s: %v; want %v bytes in one file, and a duration", i+1, kind, task, ev, want[kind])
				continue
			}
			f := files[0].(map[string]any)
			name := map[string]string{"stage-in": "a", "stage-out": "n"}[kind]
			// An input comes from the repository, or from the copy the
			// alloc kept of an earlier task's output; outputs go to the
			// repository.
			where := f["where"] == "repository" || kind == "stage-in" && f["where"] == "cache"
			if f["name"] != name || f["bytes"] != want[kind] || !where || f["seconds"] == nil || f["start"] == nil {
				t.Errorf("line %d: %s of %s: file %v; want %s of %v bytes from the repository or the alloc's copy", i+1, kind, task, f, name, want[kind])
			}
		}
	}
	for task, want := range map[string]string{
		"one":   "queued started stage-out finished",
		"two":   "queued started stage-in stage-out finished",
		"three": "queued started stage-in stage-out finished",
	} {
		if got := strings.Join(stories[task], " "); got != want {
			t.Errorf("task %s: %q, want %s", task, got, want)
		}
	}

	// ebb resume appends: resuming the finished run adds nothing and
	// keeps what is there.
	code, out, errs = runEbb(t, dir, "resume", "-quiet", "-events", "first.jsonl", ".ebb/state.json")
	if code != 0 {
		t.Fatalf("ebb resume exited %d:\n%s%s", code, out, errs)
	}
	if got := readEvents(t, filepath.Join(dir, "first.jsonl")); len(got) != len(evs) {
		t.Errorf("after ebb resume, %d events, want the %d of the run", len(got), len(evs))
	}

	// A second run finds the sinks in the cache, and runs nothing.
	code, out, errs = runEbb(t, dir, "run", "-quiet", "-events", "second.jsonl", flow)
	if code != 0 || !strings.Contains(out, "0 run, 2 from the cache") {
		t.Fatalf("second ebb run exited %d:\n%s%s", code, out, errs)
	}
	cached := map[string]bool{}
	for _, ev := range readEvents(t, filepath.Join(dir, "second.jsonl")) {
		if ev["kind"] != "finished" || ev["cached"] != true {
			t.Errorf("second run: %v, want only finished, cached", ev)
			continue
		}
		cached[ev["task"].(string)] = true
	}
	if len(cached) != 2 || !cached["two"] || !cached["three"] {
		t.Errorf("second run: cached %v, want two and three", cached)
	}
}
