package procs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb/cluster"
)

// TestTokenNotInShell launches a worker with a Command that is a shell
// script running ebb worker without exec, as a site's wrapper might: the
// shell, which lives as long as the worker, holds no token in its
// /proc/PID/environ; the token file it was handed was of mode 0600, and
// is gone once the worker is up.
func TestTokenNotInShell(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
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
	environ, err := os.ReadFile("/proc/" + rec.Handle + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(environ), rec.Token) {
		t.Errorf("the wrapper shell's environ holds the worker's token")
	}
	if !strings.Contains(string(environ), "EBB_TOKEN_FILE="+filepath.Join(workers, string(w.ID), "token")) {
		t.Errorf("the wrapper shell's environ has no $EBB_TOKEN_FILE naming %s/token", w.ID)
	}
	if _, err := os.Stat(filepath.Join(workers, string(w.ID), "token")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the token file once the worker is up: %v, want it removed", err)
	}
	if b, err := os.ReadFile(modes); err != nil || string(b) != "600\n" {
		t.Errorf("the token file's mode as the wrapper saw it: %q, %v; want 600", b, err)
	}
	if err := p.Terminate(ctx, w.ID); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
}
