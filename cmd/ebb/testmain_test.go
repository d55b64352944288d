package main

import (
	"os"
	"sync"
	"testing"

	"github.com/ebbflow/ebb/internal/proctest"
)

// TestMain lets the test binary stand for ebb where ebb starts itself:
// `ebb run` and `ebb resume`, run in process by the tests, start their
// machine worker as os.Executable() "worker" ..., which is this binary.
// It removes the ebb command that builtEbb built once the tests are done.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		os.Exit(mainSignals(os.Args[1:], os.Stdout, os.Stderr))
	}
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// built is the ebb command the tests that start it as a process share.
var built struct {
	once      sync.Once
	dir, path string
	err       error
}

// builtEbb returns the path of the ebb command, built on first use and
// shared by the package's tests, which do not run in parallel.
func builtEbb(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "ebb-cmd-test-"); built.err == nil {
			built.path, built.err = proctest.BuildEbb(built.dir)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}
