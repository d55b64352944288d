package local

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The cgroup of a dead pool that does not empty once killed (a process
// in uninterruptible sleep, or another process making the same cgroup at
// that moment) is left as it is by its deadline: a new pool does not wait
// for it forever.
func TestRemoveDeadPoolGivesUp(t *testing.T) {
	// A directory that reads like a cgroup whose processes never leave:
	// polling a regular file for POLLPRI never wakes.
	dir := filepath.Join(t.TempDir(), "ebb-local-1-dead")
	if err := os.MkdirAll(filepath.Join(dir, "1"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"cgroup.events": "populated 1\nfrozen 0\n", "cgroup.kill": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		removeDeadPool(dir, time.Now().Add(100*time.Millisecond))
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("removeDeadPool still waits for a cgroup that does not empty, a minute on")
	}
	if _, err := os.Stat(filepath.Join(dir, "1")); err != nil {
		t.Errorf("the cgroup that did not empty: %v, want it left", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup.kill")); err != nil || string(b) != "1" {
		t.Errorf("cgroup.kill = %q, %v; want it written 1", b, err)
	}
}
