package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb/internal/tokenfile"
)

// envOf returns a getenv over the NAME=value strings of env.
func envOf(env ...string) func(string) string {
	return func(name string) string {
		for _, e := range env {
			if v, ok := strings.CutPrefix(e, name+"="); ok {
				return v
			}
		}
		return ""
	}
}

// TestWorkerTokenFromEnv checks where readToken takes the token from
// when no flag gives it: $EBB_TOKEN_FILE's file (removed once read with
// $EBB_TOKEN_FILE_REMOVE=1, kept otherwise) or $EBB_TOKEN, never both.
func TestWorkerTokenFromEnv(t *testing.T) {
	dir := t.TempDir()
	write := func(name string) string {
		path := filepath.Join(dir, name)
		if err := tokenfile.Write(path, workerToken); err != nil {
			t.Fatal(err)
		}
		return path
	}
	var f workerFlags

	kept := write("kept")
	if tok, err := f.readToken(envOf("EBB_TOKEN_FILE=" + kept)); err != nil || tok != workerToken {
		t.Errorf("token from $EBB_TOKEN_FILE = %q, %v; want the file's, trimmed", tok, err)
	}
	if _, err := os.Stat(kept); err != nil {
		t.Errorf("$EBB_TOKEN_FILE without $EBB_TOKEN_FILE_REMOVE: %v, want the file kept", err)
	}

	removed := write("removed")
	if tok, err := f.readToken(envOf(tokenfile.Env(removed)...)); err != nil || tok != workerToken {
		t.Errorf("token from $EBB_TOKEN_FILE, removed = %q, %v", tok, err)
	}
	if _, err := os.Stat(removed); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("$EBB_TOKEN_FILE with $EBB_TOKEN_FILE_REMOVE=1: stat after reading: %v, want the file gone", err)
	}

	both := write("both")
	if _, err := f.readToken(envOf("EBB_TOKEN_FILE="+both, "EBB_TOKEN=other")); !errors.Is(err, errUsage) {
		t.Errorf("$EBB_TOKEN_FILE and $EBB_TOKEN both set: %v, want errUsage", err)
	}
	if _, err := f.readToken(envOf(tokenfile.Env(filepath.Join(dir, "missing"))...)); err == nil {
		t.Error("$EBB_TOKEN_FILE naming no file: nil error")
	}
	// A flag comes before the environment.
	f.token = "from-the-flag-0123456789"
	if tok, err := f.readToken(envOf(tokenfile.Env(both)...)); err != nil || tok != f.token {
		t.Errorf("-token with $EBB_TOKEN_FILE set = %q, %v; want the flag's", tok, err)
	}
	if _, err := os.Stat(both); err != nil {
		t.Errorf("-token given: %v, want $EBB_TOKEN_FILE's file untouched", err)
	}
}

// TestWorkerTokenFileProcess starts a worker whose token is in a file
// named by $EBB_TOKEN_FILE, to be removed: the file is gone by the time
// the worker listens, and the worker takes requests with the token.
func TestWorkerTokenFileProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path := filepath.Join(t.TempDir(), "token")
	if err := tokenfile.Write(path, workerToken); err != nil {
		t.Fatal(err)
	}
	w := startWorkerEnv(t, tokenfile.Env(path), "-resources", "cpu=1,mem=1GiB", "-dir", t.TempDir())
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("token file once the worker listens: %v, want it removed", err)
	}
	c := w.dial(t, ctx)
	acceptCPU(t, ctx, c)
}
