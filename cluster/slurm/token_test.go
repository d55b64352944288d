package slurm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb/cluster"
)

// TestTokenNotInJobShell launches a worker whose command is a shell
// script running ebb worker without exec, as a site's wrapper in a batch
// job might: the shell, which lives as long as the worker, holds no token
// in its /proc/PID/environ (the test cluster's node is this machine); the
// token file it was handed in Dir was of mode 0600, and is gone once the
// worker is up.
func TestTokenNotInJobShell(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	modes := filepath.Join(dir, "modes")
	script := filepath.Join(dir, "wrapper")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"+
		"stat -c %a \"$EBB_TOKEN_FILE\" >>'"+modes+"'\n"+
		"'"+ebbBinary+"' worker \"$@\"\n"+
		"exit $?\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	jobs := filepath.Join(dir, "jobs")
	cfg := Config{Dir: jobs}
	cfg.Bootstrap.Command = []string{script}
	p := newProvider(t, cfg)
	w, err := p.Launch(ctx, p.Shapes()[0], nil)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	recs, err := cluster.RecordDir(filepath.Join(jobs, "records")).Load()
	if err != nil || len(recs) != 1 || recs[0].ID != w.ID || recs[0].Token == "" {
		t.Fatalf("records %+v, %v; want the one of %s, with its token", recs, err, w.ID)
	}
	token := recs[0].Token
	shells := processesRunning(script)
	if len(shells) == 0 {
		t.Fatalf("no process runs %s: the wrapper shell should live as long as its worker", script)
	}
	for _, pid := range shells {
		environ, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(environ), token) {
			t.Errorf("process %d running the wrapper: its environ holds the worker's token", pid)
		}
		if !strings.Contains(string(environ), "EBB_TOKEN_FILE="+filepath.Join(jobs, string(w.ID)+".token")) {
			t.Errorf("process %d running the wrapper: no $EBB_TOKEN_FILE naming %s.token in its environ", pid, w.ID)
		}
	}
	if _, err := os.Stat(filepath.Join(jobs, string(w.ID)+".token")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the token file once the worker is up: %v, want it removed", err)
	}
	if b, err := os.ReadFile(modes); err != nil || string(b) != "600\n" {
		t.Errorf("the token file's mode as the wrapper saw it: %q, %v; want 600", b, err)
	}
}

// processesRunning returns the PIDs of the processes whose first or
// second word of their command line is path: a script's shell.
func processesRunning(path string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		words := strings.Split(string(cmdline), "\x00")
		if words[0] == path || len(words) > 1 && words[1] == path {
			pids = append(pids, pid)
		}
	}
	return pids
}
