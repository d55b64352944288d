package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A run made with -dir and -outputs, relative to where it started, is
// resumed from another directory by its state file alone: the resume uses
// the run's cache (no task runs again) and writes the outputs where the
// run said.
func TestResumeFromElsewhere(t *testing.T) {
	examples, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	start, elsewhere := t.TempDir(), t.TempDir()
	if err := os.CopyFS(filepath.Join(start, "flows"), os.DirFS(examples)); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runEbb(t, start, "run", "-quiet", "-dir", "d", "-outputs", "out", "-elastic=false", "flows/wordcount.yaml")
	if code != 0 || !strings.Contains(out, "4 tasks, 4 run") {
		t.Fatalf("ebb run exited %d:\n%s%s", code, out, errs)
	}
	statePath := filepath.Join(start, "d", "state.json")
	if code, out, _ := runEbb(t, elsewhere, "state", statePath); code != 0 || !strings.Contains(out, `"dir":"`+filepath.Join(start, "d")+`"`) {
		t.Errorf("ebb state exited %d:\n%s\nwant the recorded command", code, out)
	}

	// Take the run back to before it began: its tasks are in the cache,
	// its outputs gone.
	b, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	var rec runRecord
	cb, _ := json.Marshal(s["command"])
	if err := json.Unmarshal(cb, &rec); err != nil || rec.Dir != filepath.Join(start, "d") || rec.Outputs != filepath.Join(start, "out") || rec.Elastic {
		t.Errorf("the state records %s (%v), want the absolute -dir and -outputs and -elastic=false", cb, err)
	}
	for _, k := range []string{"result", "completion", "primary", "aux"} {
		delete(s, k)
	}
	s["phase"] = "init"
	b, _ = json.Marshal(s)
	if err := os.WriteFile(statePath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(start, "out")); err != nil {
		t.Fatal(err)
	}

	code, out, errs = runEbb(t, elsewhere, "resume", "-quiet", statePath)
	if code != 0 || !strings.Contains(out, "0 run, 1 from the cache, 3 not needed") {
		t.Errorf("ebb resume from elsewhere exited %d:\n%s%s\nwant the run's cache used", code, out, errs)
	}
	total, err := os.ReadFile(filepath.Join(start, "out", "total", "total"))
	if err != nil || strings.TrimSpace(string(total)) != "51" {
		t.Errorf("output total = %q, %v; want 51 where the run said", total, err)
	}
	if _, err := os.Stat(filepath.Join(elsewhere, ".ebb")); !os.IsNotExist(err) {
		t.Errorf("the resume made .ebb in its working directory (%v)", err)
	}

	// A flag given to resume overrides the record, and is recorded.
	s["phase"] = "init"
	b, _ = json.Marshal(s)
	if err := os.WriteFile(statePath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runEbb(t, elsewhere, "resume", "-quiet", "-outputs", "mine", statePath)
	if code != 0 || !strings.Contains(out, "0 run, 1 from the cache") {
		t.Errorf("ebb resume -outputs exited %d:\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(elsewhere, "mine", "total", "total")); err != nil {
		t.Errorf("resume -outputs mine: %v", err)
	}
	b, err = os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	var after struct{ Command runRecord }
	if err := json.Unmarshal(b, &after); err != nil || after.Command.Outputs != filepath.Join(elsewhere, "mine") || after.Command.Dir != filepath.Join(start, "d") {
		t.Errorf("after resume -outputs, the state records %+v (%v)", after.Command, err)
	}
}
