package slurm

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/internal/proctest"
	"github.com/ebbflow/ebb/pool/remote"
)

// testShapes are small, so that two workers fit the test cluster's node
// (scripts/slurm-test-cluster: this machine, at least 2 cores).
func testShapes() []cluster.Shape {
	return []cluster.Shape{
		{Name: "small", Resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 256 << 20}, Price: 1},
		{Name: "large", Resources: ebb.Resources{ebb.CPU: 2, ebb.Mem: 512 << 20}, Price: 2},
	}
}

var providers atomic.Int64

// newProvider returns a provider of ebb workers with short timeouts and
// a job prefix of its own, closed when t ends; then squeue must show no
// job of its running.
func newProvider(t *testing.T, cfg Config) *Provider {
	t.Helper()
	needSlurm(t)
	if cfg.Bootstrap.Command == nil {
		cfg.Bootstrap.Command = []string{ebbBinary, "worker"}
	}
	if cfg.Bootstrap.Grace == 0 {
		cfg.Bootstrap.Grace = 5 * time.Second
	}
	if cfg.Bootstrap.LeaseTimeout == 0 {
		cfg.Bootstrap.LeaseTimeout = time.Minute
	}
	if cfg.Bootstrap.Client.Timeout == 0 {
		cfg.Bootstrap.Client = remote.ClientConfig{Timeout: 5 * time.Second, RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, WaitPoll: time.Second}
	}
	if cfg.Shapes == nil {
		cfg.Shapes = testShapes()
	}
	if cfg.JobPrefix == "" {
		cfg.JobPrefix = fmt.Sprintf("%s%d-", testPrefix, providers.Add(1))
	}
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 200 * time.Millisecond
	}
	if cfg.TimeLimit == 0 {
		cfg.TimeLimit = 10 * time.Minute
	}
	if cfg.Logger == nil && testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		if left := activeJobs(cfg.JobPrefix); len(left) > 0 {
			t.Errorf("jobs left in squeue after Close: %v", left)
		}
	})
	return p
}

// jobOf returns the Slurm job ID of the worker with the given ID.
func jobOf(t *testing.T, p *Provider, id cluster.WorkerID) jobID {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.workers[id]
	if w == nil || w.job == "" {
		t.Fatalf("worker %s has no job", id)
	}
	return w.job
}

// noJobsLeft fails t unless squeue soon shows no job of p's running.
func noJobsLeft(t *testing.T, p *Provider) {
	t.Helper()
	var left []string
	if !proctest.Eventually(30*time.Second, func() bool { left = activeJobs(p.cfg.JobPrefix); return len(left) == 0 }) {
		t.Errorf("jobs of the provider still in squeue: %v", left)
	}
}
