package procs

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/internal/proctest"
	"github.com/ebbflow/ebb/pool/remote"
)

// testShapes are small slices, so that tests never claim the machine.
func testShapes() []cluster.Shape {
	return []cluster.Shape{
		{Name: "small", Resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 1 << 30}, Price: 1},
		{Name: "large", Resources: ebb.Resources{ebb.CPU: 2, ebb.Mem: 2 << 30}, Price: 2},
	}
}

// newProvider returns a provider of ebb workers with short timeouts,
// closed when t ends; then no child process may be left.
func newProvider(t *testing.T, cfg Config) *Provider {
	t.Helper()
	if cfg.Command == nil {
		cfg.Command = []string{ebbBinary, "worker"}
	}
	if cfg.Shapes == nil {
		cfg.Shapes = testShapes()
	}
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.Grace == 0 {
		cfg.Grace = 5 * time.Second
	}
	if cfg.Client.Timeout == 0 {
		cfg.Client = remote.ClientConfig{Timeout: 2 * time.Second, RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, WaitPoll: time.Second}
	}
	if testing.Verbose() {
		cfg.Stderr = os.Stderr
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		checkNoChildren(t)
	})
	return p
}

// checkNoChildren fails t if a child process is left: every launch was
// terminated and reaped.
func checkNoChildren(t testing.TB) {
	t.Helper()
	if pids := proctest.Children(); len(pids) > 0 {
		t.Errorf("child processes left: %v", pids)
	}
}

// sleepMarker returns a duration for sleep, distinct for each n and each
// test process, so that a test finds its own sleeping processes by their
// command line and no one else's.
func sleepMarker(n int) string { return fmt.Sprintf("%d.%d", 1000+n, os.Getpid()) }
