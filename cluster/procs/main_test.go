package procs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// ebbBinary is the ebb command, built once by TestMain: the tests launch
// it as their workers, so they exercise `ebb worker` end to end.
var ebbBinary string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ebb-procs-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ebbBinary = filepath.Join(dir, "ebb")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	build := exec.Command(gobin, "build", "-o", ebbBinary, "github.com/ebbflow/ebb/cmd/ebb")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building the ebb command: %v\n", err)
		return 1
	}
	code := m.Run()
	if code == 0 {
		if left := leftovers(10 * time.Second); left != "" {
			fmt.Fprintf(os.Stderr, "left after the tests:\n%s\n", left)
			code = 1
		}
	}
	return code
}

// leftovers waits up to d for every goroutine but this one, and every
// child process, to end, and describes those that did not.
func leftovers(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		var left []string
		buf := make([]byte, 1<<20)
		stacks := strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n")
		for _, g := range stacks[1:] { // the first is this goroutine
			if !strings.Contains(g, "os/signal.") && !strings.Contains(g, "runtime.ensureSigM") {
				left = append(left, g)
			}
		}
		tasks, _ := filepath.Glob("/proc/self/task/*/children")
		for _, f := range tasks {
			if b, _ := os.ReadFile(f); len(strings.TrimSpace(string(b))) > 0 {
				left = append(left, "child processes: "+string(b))
			}
		}
		if len(left) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(left, "\n\n")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
