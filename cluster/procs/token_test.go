package procs

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/internal/proctest"
)

// TestTokenNotInShell launches a worker with a Command that is a shell
// script running ebb worker without exec, as a site's wrapper might: the
// shell, which lives as long as the worker, holds no token in its
// /proc/PID/environ; the token file it was handed was of mode 0600, and
// is gone once the worker is up; Terminate stops the worker along with
// the shell.
func TestTokenNotInShell(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	script, modes := proctest.TokenWrapper(t, dir, ebbBinary)
	workers := filepath.Join(dir, "workers")
	p := newProvider(t, Config{Command: []string{script}, Dir: workers})
	w, err := p.Launch(ctx, testShapes()[0], nil)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	recs, err := cluster.RecordDir(filepath.Join(workers, "records")).Load()
	if err != nil || len(recs) != 1 || recs[0].ID != w.ID || recs[0].Token == "" {
		t.Fatalf("records %+v, %v; want the one of %s, with its token", recs, err, w.ID)
	}
	rec := recs[0]
	cmdline, err := os.ReadFile("/proc/" + rec.Handle + "/cmdline")
	if err != nil || !strings.Contains(string(cmdline), script) {
		t.Fatalf("process %s: cmdline %q, %v; want the wrapper shell, still running", rec.Handle, cmdline, err)
	}
	pid, err := strconv.Atoi(rec.Handle)
	if err != nil {
		t.Fatal(err)
	}
	proctest.CheckTokenHidden(t, []int{pid}, rec.Token, filepath.Join(workers, string(w.ID), "token"), modes)
	if err := p.Terminate(ctx, w.ID); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	// Terminate stops the worker the shell started, not the shell alone.
	if pid := findWorker(w.ID); pid != 0 {
		t.Errorf("worker process %d outlived Terminate, its wrapper shell gone", pid)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}
