package proctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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
