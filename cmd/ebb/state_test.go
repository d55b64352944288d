package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/runner"
	"github.com/opencontainers/go-digest"
)

func TestStateRoundsQuantities(t *testing.T) {
	dir := t.TempDir()
	s := &runner.State{
		Version: runner.StateVersion, ID: digest.FromString("run"), Program: "wordcount", Phase: runner.PhaseDone,
		Created: time.Unix(1e9, 0).UTC(), Completion: time.Unix(1e9+2, 0).UTC(), Allocs: 1,
		TotalResources: ebb.Resources{ebb.CPU: 0.0833333333333333, ebb.Mem: 2.8006765909333335},
		Result:         &runner.Result{Tasks: 1, Ran: 1},
	}
	if err := (runner.FileStore{Path: filepath.Join(dir, "state.json")}).Save(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runEbb(t, dir, "state", "state.json")
	if code != 0 {
		t.Fatalf("ebb state exited %d:\n%s%s", code, out, errs)
	}
	if want := "allocs   1 taken; 0.083 cpu, 2.801 B mem (resource-minutes)"; !strings.Contains(out, want) {
		t.Errorf("ebb state printed:\n%s\nwant a line %q", out, want)
	}
}
