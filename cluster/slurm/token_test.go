package slurm

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/internal/proctest"
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
	script, modes := proctest.TokenWrapper(t, dir, ebbBinary)
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
	proctest.CheckTokenHidden(t, shells, token, filepath.Join(jobs, string(w.ID)+".token"), modes)
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
