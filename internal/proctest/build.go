package proctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"
)

// BuildEbb builds the ebb command into dir and returns the binary's path,
// for tests that start real workers (`ebb worker`). It runs the go command
// of the toolchain running the tests, with its output on stderr.
func BuildEbb(dir string) (string, error) {
	bin := filepath.Join(dir, "ebb")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	build := exec.Command(gobin, "build", "-o", bin, "github.com/ebbflow/ebb/cmd/ebb")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("building the ebb command: %w", err)
	}
	return bin, nil
}

// MainWithEbb is the TestMain of a package whose tests start real ebb
// workers: it builds the ebb command into a temporary directory, sets
// *bin to its path, runs the tests, and fails them when they leave a
// child process or a goroutine behind. It returns the exit code.
func MainWithEbb(m interface{ Run() int }, bin *string) int {
	dir, err := os.MkdirTemp("", "ebb-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Workers may run as another user (a batch job): let them reach it.
	os.Chmod(dir, 0o755)
	if *bin, err = BuildEbb(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if code == 0 {
		if left := Leftovers(10 * time.Second); left != "" {
			fmt.Fprintf(os.Stderr, "left after the tests:\n%s\n", left)
			code = 1
		}
	}
	return code
}
