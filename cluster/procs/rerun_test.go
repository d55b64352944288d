package procs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/internal/proctest"
	"github.com/ebbflow/ebb/pool/local"
	"github.com/ebbflow/ebb/repository"
	"github.com/ebbflow/ebb/runner"
	"github.com/ebbflow/ebb/stealer"
)

// TestRunSurvivesKilledWorker runs a flow whose second task is stolen
// onto a worker process, and kills that worker with SIGKILL while the task
// runs: the task is run again elsewhere and the run succeeds, with the
// right output.
func TestRunSurvivesKilledWorker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	repoDir := filepath.Join(dir, "repository")
	repo, err := repository.Open(repoDir)
	if err != nil {
		t.Fatal(err)
	}
	task := ebb.Resources{ebb.CPU: 1, ebb.Mem: 64 << 20}
	machine, err := local.New(local.Config{Dir: filepath.Join(dir, "pool"), Repository: repo, Resources: task})
	if err != nil {
		t.Fatal(err)
	}
	defer machine.Close(context.Background())
	p := newProvider(t, Config{Repository: repoDir, Shapes: []cluster.Shape{{Name: "one", Resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 1 << 30}}}})
	elastic, err := cluster.NewElastic(cluster.ElasticConfig{Provider: p, BatchWindow: time.Millisecond, IdleTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ectx, stopElastic := context.WithCancel(ctx)
	elasticDone := make(chan error, 1)
	go func() { elasticDone <- elastic.Run(ectx) }()
	defer func() {
		stopElastic()
		if err := <-elasticDone; !errors.Is(err, context.Canceled) {
			t.Errorf("Elastic.Run: %v", err)
		}
	}()

	// "hold" keeps the primary while "victim" runs on a worker.
	// The victim sleeps 3.071 s: sleep's argument marks its process.
	marker := sleepMarker(2071)
	secs := marker[:1] + "." + marker[1:4]
	flow := &ebb.Flow{Name: "rerun", Tasks: []ebb.Task{
		{Name: "hold", Argv: []string{"sh", "-c", "sleep 2; echo held > out"}, Outputs: []string{"out"}, Resources: task},
		{Name: "victim", Argv: []string{"sh", "-c", fmt.Sprintf("sleep %s; echo survived > out", secs)}, Outputs: []string{"out"}, Resources: task, Attempts: 3},
	}}
	policy, err := stealer.NewDefault(stealer.DefaultConfig{LatencyPrior: 50 * time.Millisecond, TaskDuration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(runner.Config{
		Flow: flow, Cluster: cluster.NewStatic(machine), Repository: repo,
		Primary: ebb.Requirements{Min: task}, Aux: elastic,
		Steal: runner.StealConfig{Policy: policy, Tick: 100 * time.Millisecond},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	// Once the victim runs on a worker, kill every worker.
	sleeping := func() bool { return len(processesWith(secs)) > 0 }
	if !proctest.Eventually(time.Minute, sleeping) {
		t.Fatal("the victim never ran")
	}
	ws, err := p.Workers(ctx)
	if err != nil || len(ws) == 0 {
		t.Fatalf("Workers = %v, %v; want the victim's", ws, err)
	}
	p.mu.Lock()
	for _, w := range ws {
		syscall.Kill(p.workers[w.ID].cmd.Process.Pid, syscall.SIGKILL)
	}
	p.mu.Unlock()

	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	res := r.State().Result
	for name, want := range map[string]string{"hold/out": "held", "victim/out": "survived"} {
		rc, err := repo.Get(ctx, res.Outputs[name])
		if err != nil {
			t.Fatalf("output %s: %v", name, err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if strings.TrimSpace(string(b)) != want {
			t.Errorf("output %s = %q, want %q", name, b, want)
		}
	}
}
