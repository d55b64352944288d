package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A run on procs workers: while it runs, ebb workers lists the worker
// that holds its tasks (provider, shape, state, allocs); ebb run shows the
// worker's launch and stop as it does the stealer's decisions, and
// -events has them; once the run is done, ebb workers says the driver
// stopped and left no worker.
func TestWorkersOfALiveRun(t *testing.T) {
	bin := buildEbb(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	started := filepath.Join(dir, "started")
	if err := syscall.Mkfifo(started, 0o600); err != nil {
		t.Fatal(err)
	}
	gate := filepath.Join(dir, "gate")
	// Three tasks of 1 cpu: one on the primary (1 cpu of -resources' 3),
	// two on a worker. Each says it started, then waits for the gate.
	var tasks strings.Builder
	for i := range 3 {
		fmt.Fprintf(&tasks, "  - {name: t%d, argv: [sh, -c, \"echo t%d > %s; while [ ! -e %s ]; do sleep 0.05; done; echo %d > out\"], resources: \"cpu=1,mem=64MiB\", outputs: [out]}\n",
			i, i, started, gate, i)
	}
	flow := write("flow.yaml", "tasks:\n"+tasks.String())
	wf := write("workers.yaml", fmt.Sprintf("provider: procs\nworker: [%s, worker]\nlatency: 100ms\n", bin))
	state := filepath.Join(dir, ".ebb", "state.json")
	events := filepath.Join(dir, "events.jsonl")

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	var runOut, runErr bytes.Buffer
	ran := make(chan int, 1)
	go func() {
		ran <- mainCode(ctx, []string{"run", "-dir", filepath.Join(dir, ".ebb"), "-events", events, "-workers", wf,
			"-resources", "cpu=3,mem=2GiB", "-primary", "cpu=1,mem=64MiB", flow}, &runOut, &runErr)
	}()
	// Wait for the three tasks to start: the FIFO is opened read-write,
	// so that it never reads an end while writers come and go.
	fifo, err := os.OpenFile(started, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fifo.Close()
	allStarted := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(fifo)
		for n := 0; n < 3 && sc.Scan(); n++ {
		}
		close(allStarted)
	}()
	select {
	case <-allStarted:
	case code := <-ran:
		t.Fatalf("ebb run exited %d before its tasks started:\n%s%s", code, runOut.String(), runErr.String())
	}

	workers := func(args ...string) string {
		t.Helper()
		var out, errs bytes.Buffer
		if code := mainCode(t.Context(), append(append([]string{"workers"}, args...), state), &out, &errs); code != 0 {
			t.Fatalf("ebb workers %v exited %d: %s", args, code, errs.String())
		}
		return out.String()
	}
	live := workers()
	row := regexp.MustCompile(`(?m)^\S+\s+procs\s+(quarter|half|whole)\s+.*cpu.*\s+up\s+([1-9]\d*)\s+-$`)
	if !strings.Contains(live, "driver ") || !strings.Contains(live, " running (record ") || !row.MatchString(live) {
		t.Errorf("ebb workers while the run holds a worker:\n%s\nwant the driver running and a procs worker up with its allocs", live)
	}
	var rec workersRecord
	if err := json.Unmarshal([]byte(workers("-json")), &rec); err != nil {
		t.Fatal(err)
	}
	if !rec.Live || rec.Provider != "procs" || len(rec.Workers) == 0 || rec.Workers[0].Allocs == 0 || rec.Workers[0].State != "up" {
		t.Errorf("ebb workers -json while the run holds a worker: %+v", rec)
	}
	if fi, err := os.Stat(filepath.Join(dir, ".ebb", workersFileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("workers record: %v, %v; want mode 0600", fi, err)
	}

	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := <-ran; code != 0 {
		t.Fatalf("ebb run exited %d:\n%s%s", code, runOut.String(), runErr.String())
	}
	after := workers()
	if !strings.Contains(after, " stopped ") || !strings.Contains(after, "no workers") {
		t.Errorf("ebb workers after the run:\n%s\nwant the driver stopped and no worker left", after)
	}

	// ebb run showed the worker's launch and stop among its lines.
	errs := runErr.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^worker launch 1 \(\w+\) launching: `),
		regexp.MustCompile(`(?m)^worker \S+ \(\w+\) up: launch 1 up after `),
		regexp.MustCompile(`(?m)^worker \S+ \(\w+\) stopped: `),
	} {
		if !want.MatchString(errs) {
			t.Errorf("ebb run's stderr has no line matching %s:\n%s", want, errs)
		}
	}
	// -events has them too, beside the tasks' events.
	b, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev struct {
			Kind        string `json:"kind"`
			WorkerEvent string `json:"worker_event"`
			Shape       string `json:"shape"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("event %q: %v", line, err)
		}
		if ev.Kind == "worker" {
			if ev.Shape == "" {
				t.Errorf("worker event without its shape: %s", line)
			}
			kinds = append(kinds, ev.WorkerEvent)
		}
	}
	if want := []string{"launching", "up", "stopping", "stopped"}; !isSubsequence(want, kinds) {
		t.Errorf("worker events in -events: %q, want %q in order", kinds, want)
	}
}

// isSubsequence says whether want appears in got in order, maybe with
// other elements between.
func isSubsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}
