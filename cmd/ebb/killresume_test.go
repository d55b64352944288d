package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A driver killed (SIGKILL: nothing of ebb runs after it) just after a
// task finished leaves its result where the resumed run finds it, synced
// or not yet: the task is not run again, and the task running at the
// kill, re-attached on the machine worker that outlived the driver, runs
// once to its end.
func TestKilledThenResumeFindsFinished(t *testing.T) {
	dir := t.TempDir()
	goFIFO := filepath.Join(dir, "go")
	if err := syscall.Mkfifo(goFIFO, 0o600); err != nil {
		t.Fatal(err)
	}
	ran := filepath.Join(dir, "ran.log")
	flow := filepath.Join(dir, "two.yaml")
	content := `tasks:
  - name: first
    argv: [/bin/sh, -c, "echo first >> ` + ran + `; echo one > o"]
    outputs: [o]
  - name: second
    argv: [/bin/sh, -c, "echo second >> ` + ran + `; read x < ` + goFIFO + `; cat in > p"]
    inputs: [{name: in, task: first, output: o}]
    outputs: [p]
`
	if err := os.WriteFile(flow, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startEbb(t, dir, "1 done, 0 cached, 1 running", "run", "-elastic=false", "-dir", "d", "two.yaml")
	if err := p.signal(t, syscall.SIGKILL); err == nil {
		t.Fatalf("ebb run ended well after SIGKILL:\n%s", p.stderr)
	}
	// The second task, on the machine worker, ends once the resumed run
	// has re-attached to it or not: it reads the FIFO only once.
	wrote := make(chan error, 1)
	go func() { wrote <- os.WriteFile(goFIFO, []byte("go\n"), 0o600) }()
	code, out, errs := runEbb(t, dir, "resume", "-quiet", filepath.Join("d", "state.json"))
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if code != 0 || !strings.Contains(out, "2 tasks, 1 run, 1 from the cache") {
		t.Errorf("ebb resume exited %d:\n%s%s\nwant the first task from the cache", code, out, errs)
	}
	b, err := os.ReadFile(ran)
	if got, want := string(b), "first\nsecond\n"; err != nil || got != want {
		t.Errorf("tasks ran: %q, %v; want each once, %q", got, err, want)
	}
	checkNoChildren(t)
}
