package command

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb/internal/proctest"
)

// TestTokenDir starts a worker, with Config.TokenDir, under a shell that
// does not exec it (testdata/start-worker-shell), as a batch script
// might: that shell, which lives as long as the worker, holds no token in
// its /proc/PID/environ, only $EBB_TOKEN_FILE; the file was of mode 0600
// when Start ran, and is gone once the worker is up.
func TestTokenDir(t *testing.T) {
	state := t.TempDir()
	cfg := scripts(t, state)
	start, err := filepath.Abs(filepath.Join("testdata", "start-worker-shell"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Start[0] = start
	cfg.TokenDir = filepath.Join(state, "tokens")
	p := newProvider(t, cfg, state)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	w, err := p.Launch(ctx, testShapes()[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	token := p.workers[w.ID].exp.Token()
	pid, err := os.ReadFile(filepath.Join(state, string(w.ID)+".pid"))
	if err != nil {
		t.Fatal(err)
	}
	shell := "/proc/" + strings.TrimSpace(string(pid))
	if cmdline, err := os.ReadFile(shell + "/cmdline"); err != nil || !strings.HasPrefix(string(cmdline), "sh\x00-c\x00") {
		t.Fatalf("%s/cmdline: %q, %v; want the shell running the worker", shell, cmdline, err)
	}
	shellPID, err := strconv.Atoi(strings.TrimSpace(string(pid)))
	if err != nil {
		t.Fatal(err)
	}
	proctest.CheckTokenHidden(t, []int{shellPID}, token, filepath.Join(cfg.TokenDir, string(w.ID)+".token"), filepath.Join(state, string(w.ID)+".mode"))
	if err := p.Terminate(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
}

// TestTokenDirFailedStart checks that a worker that never read its token
// file leaves none: Start fails, and the provider removes the file.
func TestTokenDirFailedStart(t *testing.T) {
	state := t.TempDir()
	cfg := scripts(t, state)
	cfg.Start = []string{"/bin/sh", "-c", "exit 3"}
	cfg.TokenDir = filepath.Join(state, "tokens")
	p := newProvider(t, cfg, state)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := p.Launch(ctx, testShapes()[0], nil); err == nil {
		t.Fatal("Launch with a failing Start: nil error")
	}
	if left, _ := filepath.Glob(filepath.Join(cfg.TokenDir, "*")); len(left) > 0 {
		t.Errorf("token files left after a failed Start: %q", left)
	}
}
