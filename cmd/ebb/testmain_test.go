package main

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ebbflow/ebb/internal/proctest"
)

// TestMain lets the test binary stand for ebb where ebb starts itself:
// `ebb run` and `ebb resume`, run in process by the tests, start their
// machine worker as os.Executable() "worker" ..., which is this binary.
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

// built is the ebb command, built once for the tests that run it as a
// process of its own (see buildEbb), in a directory TestMain removes.
var built struct {
	once     sync.Once
	dir, bin string
	err      error
}

// buildEbb returns the path of the ebb command in a directory of t's own,
// or fails t: a link to the one built for every test, so that a test
// still finds its own processes by that path, and the command is linked
// once instead of once a test, which on a loaded machine took minutes of
// the package's ten.
func buildEbb(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "ebb-cmd-test-"); built.err == nil {
			built.bin, built.err = proctest.BuildEbb(built.dir)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	bin := filepath.Join(t.TempDir(), "ebb")
	if err := os.Link(built.bin, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}
