package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/internal/proctest"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository"
	"github.com/ebbflow/ebb/runner"
)

// The machine worker of a run is one per State: a second driver of the
// same State is refused while the first runs; once the first is gone
// without stopping it (a crash: its lock released, the worker left
// running), the next driver adopts the same worker, with the alloc the
// first one held; stopping it leaves no process and no directory.
func TestMachineWorkerAdoptedOncePerState(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	repo, err := repository.Open(filepath.Join(dir, "repository"))
	if err != nil {
		t.Fatal(err)
	}
	f := runFlags{dir: dir, resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 1 << 30}}
	state := filepath.Join(dir, "state.json")
	log := slog.New(slog.DiscardHandler)
	first, err := f.startMachine(ctx, state, repo, log)
	if err != nil {
		t.Fatal(err)
	}
	a, err := pool.Allocate(ctx, first.pool, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.startMachine(ctx, state, repo, log); !errors.Is(err, ebb.ErrUnavailable) {
		t.Errorf("a second driver of the same State: %v, want ErrUnavailable", err)
	}
	// Another State in the same -dir has a machine worker of its own.
	other, err := f.startMachine(ctx, filepath.Join(dir, "other.json"), repo, log)
	if err != nil {
		t.Fatal(err)
	}
	if workerID(t, other) == workerID(t, first) {
		t.Errorf("the machine worker of another State is the first one's, %s", workerID(t, other))
	}
	if err := other.stop(); err != nil {
		t.Error(err)
	}

	// The first driver crashes: its lock goes, its worker stays.
	first.release()
	again, err := f.startMachine(ctx, state, repo, log)
	if err != nil {
		t.Fatal(err)
	}
	if workerID(t, again) != workerID(t, first) {
		t.Errorf("the resumed driver's machine worker is %s, want the first one's, %s", workerID(t, again), workerID(t, first))
	}
	if _, err := again.pool.Alloc(ctx, a.ID()); err != nil {
		t.Errorf("the first driver's alloc on the adopted machine worker: %v", err)
	}
	if err := again.stop(); err != nil {
		t.Error(err)
	}
	if !proctest.Eventually(10*time.Second, func() bool { return len(processesWith("-id\x00"+workerID(t, first))) == 0 }) {
		t.Errorf("machine worker processes left: %v", processesWith("-id\x00"+workerID(t, first)))
	}
	if _, err := os.Stat(filepath.Join(dir, "machine")); !os.IsNotExist(err) {
		left, _ := filepath.Glob(filepath.Join(dir, "machine", "*", "*"))
		t.Errorf("the machine workers' directory is left (%v): %v", err, left)
	}
}

// workerID returns the ID of the worker that serves mp now.
func workerID(t *testing.T, mp *machinePool) string {
	t.Helper()
	_, id, err := mp.pool.(*machineWorkerPool).current(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return string(id)
}

// A machine worker that dies while its driver runs (the OOM killer) is
// started again on the next call: the run loses what ran there, as with
// any lost alloc, and goes on instead of retrying a server that is gone.
func TestMachineWorkerStartedAgain(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	repo, err := repository.Open(filepath.Join(dir, "repository"))
	if err != nil {
		t.Fatal(err)
	}
	f := runFlags{dir: dir, resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 1 << 30}}
	mp, err := f.startMachine(ctx, filepath.Join(dir, "state.json"), repo, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer mp.stop()
	c := cluster.NewStatic(mp.pool)
	req := ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}
	a, err := c.Allocate(ctx, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := workerID(t, mp)
	for _, pid := range processesWith("-id\x00" + first) {
		n, _ := strconv.Atoi(pid)
		syscall.Kill(n, syscall.SIGKILL)
	}
	if _, err := a.Keepalive(ctx, time.Minute); !errors.Is(err, ebb.ErrExpired) {
		t.Errorf("Keepalive of an alloc of the killed worker = %v, want ErrExpired", err)
	}
	if _, err := c.Allocate(ctx, req, nil); err != nil {
		t.Fatalf("Allocate after the worker was killed: %v", err)
	}
	if again := workerID(t, mp); again == first {
		t.Errorf("the machine worker is still %s, killed", again)
	}
}

// -primary-in-process is recorded with the run, so that ebb resume
// serves the primary as the run did, unless told otherwise.
func TestPrimaryInProcessRecorded(t *testing.T) {
	f := runFlags{dir: "/d", elastic: true, policy: "default", primaryInProcess: true}
	cmd, err := f.record()
	if err != nil {
		t.Fatal(err)
	}
	s := &runner.State{Command: cmd}
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{nil, true},
		{[]string{"-primary-in-process=false"}, false},
	} {
		fs := flag.NewFlagSet("resume", flag.ContinueOnError)
		var given runFlags
		given.register(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		got, err := resumeFlags(s, fs, given)
		if err != nil || got.primaryInProcess != tc.want {
			t.Errorf("resume %q of a run with -primary-in-process: primaryInProcess %v (%v), want %v", tc.args, got.primaryInProcess, err, tc.want)
		}
	}
}
