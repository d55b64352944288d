// Package proctest holds what ebb's tests of real processes share: finding
// the child processes and goroutines a test left behind, and waiting for a
// condition that nothing announces.
//
// Tests that can run on fake time use testing/synctest instead. These
// helpers are for what happens outside a bubble: a worker process that
// exits on its own, an orphan that init reaps, a goroutine of the HTTP
// server that ends after its connection closes. None of these sends an
// event a test could wait on, so Eventually polls, in this one place, with
// a deadline.
package proctest

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Children returns the PIDs of this process's live child processes, read
// from /proc/self/task/*/children (Linux).
func Children() []int {
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	var pids []int
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended
		}
		for _, field := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(field); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// Eventually reports whether cond holds within d, checking it every 5 ms.
func Eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// Leftovers waits up to d for every goroutine but the caller's, and every
// child process, to end, and describes those that did not; "" when none
// is left. Goroutines of os/signal are not counted. A TestMain calls it
// after m.Run.
func Leftovers(d time.Duration) string {
	var left []string
	Eventually(d, func() bool {
		left = left[:0]
		buf := make([]byte, 1<<20)
		stacks := strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n")
		for _, g := range stacks[1:] { // the first is the caller's
			if !strings.Contains(g, "os/signal.") && !strings.Contains(g, "runtime.ensureSigM") {
				left = append(left, g)
			}
		}
		if pids := Children(); len(pids) > 0 {
			left = append(left, "child processes: "+fmtInts(pids))
		}
		return len(left) == 0
	})
	return strings.Join(left, "\n\n")
}

func fmtInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, " ")
}
