package proctest

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestChildrenAndLeftovers(t *testing.T) {
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if pids := Children(); !slices.Contains(pids, cmd.Process.Pid) {
		t.Errorf("Children = %v, want it to hold %d", pids, cmd.Process.Pid)
	}
	if left := Leftovers(50 * time.Millisecond); !strings.Contains(left, "child processes") {
		t.Errorf("Leftovers with a child running = %q", left)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if pids := Children(); slices.Contains(pids, cmd.Process.Pid) {
		t.Errorf("Children after the child was reaped = %v", pids)
	}
}

func TestEventually(t *testing.T) {
	n := 0
	if !Eventually(time.Second, func() bool { n++; return n == 3 }) {
		t.Error("Eventually gave up on a condition that came true")
	}
	if Eventually(20*time.Millisecond, func() bool { return false }) {
		t.Error("Eventually reported a condition that never held")
	}
}

// TestCrashingChild is run by TestRunChildCountsACrash: its second
// subtest crashes the binary from a goroutine.
func TestCrashingChild(t *testing.T) {
	if os.Getenv("PROCTEST_CRASH") == "" {
		t.Skip("run by TestRunChildCountsACrash")
	}
	t.Run("fine", func(t *testing.T) {})
	t.Run("crash", func(t *testing.T) {
		go func() { panic("boom") }()
		// The panic ends the binary. The subtest must not end first: the
		// binary could exit 0 before the panicking goroutine exits 2.
		select {}
	})
}

// A subtest that crashes the child counts as failed.
func TestRunChildCountsACrash(t *testing.T) {
	_, failed, err := RunChild(t.Context(), "TestCrashingChild", "PROCTEST_CRASH=1")
	if err == nil || !slices.Equal(failed, []string{"crash"}) {
		t.Errorf("RunChild = %q, %v; want the crashed subtest failed", failed, err)
	}
}
