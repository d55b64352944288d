package remote

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain runs the tests, and then fails them if a goroutine or a child
// process is left: every call, poll, stream and server must have ended.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if left := leftovers(10 * time.Second); left != "" {
			fmt.Fprintf(os.Stderr, "left after the tests:\n%s\n", left)
			code = 1
		}
	}
	os.Exit(code)
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
