package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ebbflow/ebb/repository"
	"github.com/ebbflow/ebb/runner"
)

// countStored returns how many blobs and cache entries the run directory
// dir holds.
func countStored(t *testing.T, dir string) (blobs, entries int) {
	t.Helper()
	ctx := context.Background()
	repo, err := repository.Open(filepath.Join(dir, "repository"))
	if err != nil {
		t.Fatal(err)
	}
	cache, err := repository.OpenCache(filepath.Join(dir, "repository"))
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Walk(ctx, func(repository.Blob) error { blobs++; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := cache.Walk(ctx, func(repository.Entry) error { entries++; return nil }); err != nil {
		t.Fatal(err)
	}
	return blobs, entries
}

// TestGC runs the example flow, prunes its run directory and runs it
// again: what the saved state needs stays and serves the second run from
// the cache; with nothing kept, everything goes and the flow runs again.
func TestGC(t *testing.T) {
	flow, err := filepath.Abs("../../examples/wordcount.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ebb := func(want int, args ...string) string {
		t.Helper()
		code, out, errs := runEbb(t, dir, args...)
		if code != want {
			t.Fatalf("ebb %v exited %d, want %d:\n%s%s", args, code, want, out, errs)
		}
		return out
	}
	ebb(0, "run", "-quiet", "-dir", "D", flow)
	blobs, entries := countStored(t, filepath.Join(dir, "D"))
	if blobs < 5 || entries < 4 {
		t.Fatalf("the run stored %d blobs and %d cache entries, want at least 5 and 4", blobs, entries)
	}

	// A dry run and a state that cannot be read remove nothing.
	if out := ebb(0, "gc", "-dir", "D", "-older-than", "0s", "-n"); !strings.HasPrefix(out, "would remove ") {
		t.Errorf("ebb gc -n printed %q", out)
	}
	ebb(1, "gc", "-dir", "D", "-older-than", "0s", "-keep", "missing.json")
	if b, e := countStored(t, filepath.Join(dir, "D")); b != blobs || e != entries {
		t.Fatalf("after a dry run and a failed one, %d blobs and %d entries are stored, want %d and %d", b, e, blobs, entries)
	}

	out := ebb(0, "gc", "-dir", "D", "-older-than", "0s")
	if !strings.HasPrefix(out, "removed ") || !strings.Contains(out, "kept 1 blobs") || !strings.HasSuffix(out, "needed by 1 states\n") {
		t.Errorf("ebb gc printed %q", out)
	}
	state, err := runner.FileStore{Path: filepath.Join(dir, "D", "state.json")}.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	repo, err := repository.Open(filepath.Join(dir, "D", "repository"))
	if err != nil {
		t.Fatal(err)
	}
	for name, dg := range state.Result.Outputs {
		if _, err := repo.Stat(context.Background(), dg); err != nil {
			t.Errorf("output %s of the saved state: %v", name, err)
		}
	}
	if b, e := countStored(t, filepath.Join(dir, "D")); b != 1 || e != 1 {
		t.Errorf("after gc, %d blobs and %d entries are stored, want the state's output and its task's entry", b, e)
	}
	if out := ebb(0, "run", "-quiet", "-dir", "D", flow); !strings.Contains(out, "0 run, 1 from the cache, 3 not needed") {
		t.Errorf("the run after gc was not served from the cache:\n%s", out)
	}

	out = ebb(0, "gc", "-dir", "D", "-older-than", "0s", "-keep-none")
	if !strings.HasSuffix(out, "kept 0 blobs (0 B) needed by 0 states\n") {
		t.Errorf("ebb gc -keep-none printed %q", out)
	}
	if b, e := countStored(t, filepath.Join(dir, "D")); b != 0 || e != 0 {
		t.Errorf("after gc -keep-none, %d blobs and %d entries are stored, want none", b, e)
	}
	if out := ebb(0, "run", "-quiet", "-dir", "D", flow); !strings.Contains(out, "4 run, 0 from the cache") {
		t.Errorf("the run after gc -keep-none did not recompute:\n%s", out)
	}

	// By size: the state's output and the flow's history stay.
	if out := ebb(0, "gc", "-dir", "D", "-max-size", "1B"); !strings.Contains(out, "kept 1 blobs") {
		t.Errorf("ebb gc -max-size printed %q", out)
	}
	if b, e := countStored(t, filepath.Join(dir, "D")); b != 2 || e != 2 {
		t.Errorf("after gc -max-size 1B, %d blobs and %d entries are stored, want the state's output and the history, with their entries", b, e)
	}
	if out := ebb(0, "run", "-quiet", "-dir", "D", flow); !strings.Contains(out, "0 run, 1 from the cache, 3 not needed") {
		t.Errorf("the run after gc -max-size was not served from the cache:\n%s", out)
	}

	ebb(2, "gc", "-dir", "D", "-max-size", "lots")
	ebb(1, "gc", "-dir", "nowhere")
	if _, err := os.Stat(filepath.Join(dir, "nowhere")); err == nil {
		t.Error("ebb gc made the missing run directory it was given")
	}
}
