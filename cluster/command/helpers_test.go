package command

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/internal/proctest"
	"github.com/ebbflow/ebb/pool/remote"
)

// testShapes are small, so that tests never claim the machine.
func testShapes() []cluster.Shape {
	return []cluster.Shape{
		{Name: "small", Resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 1 << 30}, Price: 1},
		{Name: "large", Resources: ebb.Resources{ebb.CPU: 2, ebb.Mem: 2 << 30}, Price: 2},
	}
}

// scripts returns a Config whose commands are the scripts of testdata,
// keeping their state in state: they start real ebb workers in the
// background. Each worker's -dir is under state, so that a process left
// running is found by its command line (see running).
func scripts(t *testing.T, state string) Config {
	t.Helper()
	abs := func(name string) string {
		p, err := filepath.Abs(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	return Config{
		Start:  []string{abs("start-worker"), state, "{{.ID}}", "{{.Worker}}", "-dir", state + "/{{.ID}}.dir"},
		List:   []string{abs("list-workers"), state},
		Stop:   []string{abs("stop-worker"), state, "{{.ID}}"},
		Shapes: testShapes(),
		Bootstrap: bootstrap.Config{
			Command: []string{ebbBinary, "worker"},
			Grace:   5 * time.Second,
			NoTLS:   false,
			Client:  remote.ClientConfig{Timeout: 5 * time.Second, RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, WaitPoll: time.Second},
		},
		Timeout:       30 * time.Second,
		StartTimeout:  time.Minute,
		CheckInterval: 100 * time.Millisecond,
	}
}

// newProvider returns a provider of cfg, closed when t ends; then no
// worker process may be left under state.
func newProvider(t *testing.T, cfg Config, state string) *Provider {
	t.Helper()
	p, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		checkNoWorkers(t, filepath.Join(state, p.cfg.Name+"-"+p.nonce))
	})
	return p
}

// checkNoWorkers fails t if a process whose command line holds s (a
// state directory, or the start of a worker's -dir in it) is still
// running a little after the test.
func checkNoWorkers(t *testing.T, s string) {
	t.Helper()
	if !proctest.Eventually(10*time.Second, func() bool { return len(running(s)) == 0 }) {
		t.Errorf("worker processes left running: %v", running(s))
	}
}

// running returns the PIDs of the live processes (zombies aside) whose
// command line holds s.
func running(s string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), s) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if _, rest, ok := strings.Cut(string(stat), ") "); ok && strings.HasPrefix(rest, "Z") {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}
