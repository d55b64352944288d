package main

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/internal/proctest"
	"github.com/ebbflow/ebb/repository"
)

// The workers of -workers are kept per State, on every provider: two
// runs of other States share a -dir (and, for command and slurm, the
// engine: one list of workers, one Slurm user), each ends keeping a
// worker running (as a driver killed, or interrupted with -keep-workers,
// does); a resume of the first adopts its own worker and leaves the
// second's alone, running and recorded, for the second's resume to
// adopt. A second driver of a State whose driver runs is refused. Once
// both runs end, no worker and no record is left.
func TestWorkersPerState(t *testing.T) {
	scripts, err := filepath.Abs("../../cluster/command/testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, provider := range []string{"procs", "command", "slurm"} {
		t.Run(provider, func(t *testing.T) {
			if provider == "slurm" {
				proctest.NeedSlurm(t, proctest.SlurmErr())
			}
			workersPerState(t, provider, scripts)
		})
	}
}

func workersPerState(t *testing.T, provider, scripts string) {
	ctx := t.Context()
	dir := t.TempDir()
	repo, err := repository.Open(filepath.Join(dir, "repository"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	shape := cluster.Shape{Name: "small", Resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 1 << 30}, Price: 1}
	stateA, stateB := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	start := func(state string) (*workerPool, error) {
		wf := &workersFile{Provider: provider, derived: []cluster.Shape{shape}}
		switch provider {
		case "command":
			// One list of workers for both runs: the engine's.
			list := filepath.Join(dir, "engine")
			wf.Command = &commandFile{
				Start: []string{scripts + "/start-worker", list, "{{.ID}}", "{{.Worker}}", "-dir", list + "/{{.ID}}.dir"},
				List:  []string{scripts + "/list-workers", list},
				Stop:  []string{scripts + "/stop-worker", list, "{{.ID}}"},
			}
		case "slurm":
			wf.Slurm = &slurmFile{PollInterval: duration(200 * time.Millisecond), TimeLimit: duration(10 * time.Minute)}
		}
		return wf.start(ctx, dir, state, repo, true, log, elasticHooks{})
	}
	mustStart := func(state string) *workerPool {
		t.Helper()
		wp, err := start(state)
		if err != nil {
			t.Fatalf("starting the workers of %s: %v", filepath.Base(state), err)
		}
		return wp
	}
	launch := func(wp *workerPool) string {
		t.Helper()
		w, err := wp.provider.Launch(ctx, shape, nil)
		if err != nil {
			t.Fatal(err)
		}
		return string(w.ID)
	}
	workers := func(wp *workerPool) []string {
		t.Helper()
		ws, err := wp.provider.Workers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, w := range ws {
			ids = append(ids, string(w.ID))
		}
		return ids
	}
	kind := provider
	if provider == "procs" {
		kind = "workers"
	}
	alive := func(id string) bool { return len(processesWith("-id\x00"+id)) > 0 }
	gone := func(id string) bool {
		return proctest.Eventually(10*time.Second, func() bool { return !alive(id) })
	}

	a := mustStart(stateA)
	idA := launch(a)
	b := mustStart(stateB)
	idB := launch(b)
	if again, err := start(stateA); !errors.Is(err, ebb.ErrUnavailable) {
		t.Errorf("a second driver of a State whose driver runs: %v, want ErrUnavailable", err)
		if err == nil {
			again.stop(true)
		}
	}
	if err := a.stop(true); err != nil {
		t.Fatal(err)
	}
	if err := b.stop(true); err != nil {
		t.Fatal(err)
	}
	if !alive(idA) || !alive(idB) {
		t.Fatalf("workers kept by the runs that ended: %s alive %v, %s alive %v; want both", idA, alive(idA), idB, alive(idB))
	}

	a = mustStart(stateA)
	if got := workers(a); !slices.Equal(got, []string{idA}) {
		t.Errorf("the resumed first run holds workers %q, want its own, %s", got, idA)
	}
	if err := a.stop(false); err != nil {
		t.Error(err)
	}
	if !gone(idA) {
		t.Errorf("the first run's worker %s still runs after the run ended", idA)
	}
	// The command provider keeps its records in its directory itself.
	recB, _ := filepath.Glob(filepath.Join(stateDir(dir, kind, stateB), "*", idB+".*"))
	recB2, _ := filepath.Glob(filepath.Join(stateDir(dir, kind, stateB), idB+".*"))
	recB = append(recB, recB2...)
	if !alive(idB) || len(recB) == 0 {
		t.Errorf("the second run's worker %s after the first run ended: alive %v, records %q; want it left alone", idB, alive(idB), recB)
	}

	b = mustStart(stateB)
	if got := workers(b); !slices.Equal(got, []string{idB}) {
		t.Errorf("the resumed second run holds workers %q, want its own, %s", got, idB)
	}
	if err := b.stop(false); err != nil {
		t.Error(err)
	}
	if !gone(idB) {
		t.Errorf("the second run's worker %s still runs after the run ended", idB)
	}
	left, _ := filepath.Glob(filepath.Join(dir, kind, "*", "records", "*.worker.json"))
	left2, _ := filepath.Glob(filepath.Join(dir, kind, "*", "*.worker.json"))
	if left = append(left, left2...); len(left) > 0 {
		t.Errorf("worker records left: %v", left)
	}
	if provider == "procs" {
		if _, err := os.Stat(filepath.Join(dir, "workers")); !os.IsNotExist(err) {
			left, _ := filepath.Glob(filepath.Join(dir, "workers", "*", "*"))
			t.Errorf("the workers directory is left (%v): %v", err, left)
		}
	}
}
