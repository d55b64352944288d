package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/internal/proctest"
)

// A task on a worker that stores its outputs to ebb's blob server
// (-peers=false, the command provider) ends while its driver is dead,
// and the driver stays dead longer than the worker's client would once
// retry for (its -grace, bootstrap.DefaultGrace): the worker keeps
// trying to store the output, the resumed driver takes it, and the task
// completes once, never run again.
//
// While the driver is dead the test holds its kept address, closing
// every connection it accepts: the worker's attempts to store are the
// events it waits on, and the gap lasts until they have gone on past the
// window the worker once gave up in.
func TestKilledDriverTakesOutputsStoredLate(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and resumes a real driver, dead for more than 10 s")
	}
	bin := buildEbb(t)
	// A test that fails half way leaves no worker behind: the primary's
	// machine worker and the command provider's outlive their driver.
	t.Cleanup(func() {
		for _, pid := range processesWith(bin) {
			if n, err := strconv.Atoi(pid); err == nil {
				syscall.Kill(n, syscall.SIGKILL)
			}
		}
	})
	scripts, err := filepath.Abs("../../cluster/command/testdata")
	if err != nil {
		t.Fatal(err)
	}
	dir, elsewhere := t.TempDir(), t.TempDir()
	log := filepath.Join(dir, "tasks.log")
	goFIFO := filepath.Join(dir, "go")
	if err := syscall.Mkfifo(goFIFO, 0o600); err != nil {
		t.Fatal(err)
	}
	workerState := filepath.Join(dir, "workers-state")
	workers := fmt.Sprintf("provider: command\nworker: [%s, worker]\nidle_timeout: 2s\nlatency: 100ms\nmax_workers: 1\nshapes:\n  - {name: one, resources: \"cpu=1,mem=512MiB\"}\n", bin)
	workers += fmt.Sprintf("command:\n  start: [%[1]s/start-worker, %[2]s, \"{{.ID}}\", \"{{.Worker}}\", -dir, \"%[2]s/{{.ID}}.dir\"]\n  list: [%[1]s/list-workers, %[2]s]\n  stop: [%[1]s/stop-worker, %[2]s, \"{{.ID}}\"]\n  check_interval: 200ms\n", scripts, workerState)
	// The task does not fit the primary: it runs on the worker, and
	// ends when the test writes to the FIFO go.
	script := fmt.Sprintf(`echo "start $$" >> %[1]s; read x < %[2]s; echo "end" >> %[1]s; echo 42 > out`, log, goFIFO)
	flow := fmt.Sprintf("tasks:\n  - {name: late, argv: [/bin/sh, -c, %q], resources: \"cpu=1,mem=64MiB\", outputs: [out]}\n", script)
	for name, content := range map[string]string{"workers.yaml": workers, "flow.yaml": flow} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	state := filepath.Join(dir, "d", "state.json")

	run := exec.Command(bin, "run", "-quiet", "-workers", "workers.yaml", "-dir", "d", "-peers=false", "-primary", "cpu=1,mem=32MiB", "-outputs", "out", "flow.yaml")
	run.Dir = dir
	var stderr syncBuffer
	run.Stderr = &stderr
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(log)
			t.Logf("the task log:\n%s\nthe first driver said:\n%s", b, &stderr)
			wl, _ := filepath.Glob(filepath.Join(workerState, "*.log"))
			for _, l := range wl {
				b, _ := os.ReadFile(l)
				t.Logf("worker log %s:\n%s", filepath.Base(l), b)
			}
		}
	}()
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	exitc := make(chan error, 1)
	go func() { exitc <- run.Wait() }()
	if !proctest.Eventually(time.Minute, func() bool { return len(logLines(t, log)) > 0 }) {
		run.Process.Kill()
		<-exitc
		t.Fatal("the task did not start within a minute")
	}
	run.Process.Signal(syscall.SIGKILL)
	<-exitc

	// The driver is dead: the test holds its address.
	var kept struct {
		Addr string `json:"addr"`
	}
	keeps, _ := filepath.Glob(filepath.Join(dir, "d", "command", "*", "bootstrap.json"))
	if len(keeps) != 1 {
		t.Fatalf("the driver's kept addresses: %v, want one", keeps)
	}
	b, err := os.ReadFile(keeps[0])
	if err != nil || json.Unmarshal(b, &kept) != nil || kept.Addr == "" {
		t.Fatalf("the driver's kept address: %q, %v", b, err)
	}
	ln, err := net.Listen("tcp", kept.Addr)
	if err != nil {
		t.Fatalf("holding the dead driver's address: %v", err)
	}
	var mu sync.Mutex
	var attempts []time.Time
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			attempts = append(attempts, time.Now())
			mu.Unlock()
			c.Close()
		}
	}()
	// The task ends, and its worker tries to store its output.
	if err := os.WriteFile(goFIFO, []byte("go\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The gap lasts until the worker has tried for a second longer than
	// the window it used to give up in.
	window := bootstrap.DefaultGrace + time.Second
	var span time.Duration
	outlasted := proctest.Eventually(window+20*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		if len(attempts) > 1 {
			span = attempts[len(attempts)-1].Sub(attempts[0])
		}
		return span > window
	})
	ln.Close()
	<-accepted
	mu.Lock()
	n := len(attempts)
	mu.Unlock()
	if !outlasted {
		t.Fatalf("the worker stopped trying to store the output after %v (%d attempts), before the driver's return", span, n)
	}
	t.Logf("the worker tried %d times over %v while the driver was dead", n, span)

	resume := exec.Command(bin, "resume", "-quiet", state)
	resume.Dir = elsewhere
	var rerr syncBuffer
	resume.Stderr = &rerr
	done := make(chan error, 1)
	if err := resume.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- resume.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ebb resume: %v\n%s", err, &rerr)
		}
	case <-time.After(2 * time.Minute):
		resume.Process.Kill()
		<-done
		t.Fatalf("ebb resume did not end within 2 minutes:\n%s", &rerr)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "out", "late", "out")); err != nil || strings.TrimSpace(string(got)) != "42" {
		t.Errorf("the task's output = %q, %v; want 42", got, err)
	}
	var starts, ends int
	for _, l := range logLines(t, log) {
		switch {
		case strings.HasPrefix(l, "start "):
			starts++
		case l == "end":
			ends++
		}
	}
	if starts != 1 || ends != 1 {
		b, _ := os.ReadFile(log)
		t.Errorf("the task started %d times and ended %d times, want once each:\n%s", starts, ends, b)
	}
	if !proctest.Eventually(10*time.Second, func() bool { return len(processesWith(bin)) == 0 }) {
		t.Errorf("worker processes left: %v", processesWith(bin))
	}
}
