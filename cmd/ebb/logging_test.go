package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLogLevels(t *testing.T) {
	for _, tc := range []struct {
		base slog.Level
		args []string
		want slog.Level
	}{
		{slog.LevelWarn, nil, slog.LevelWarn},
		{slog.LevelWarn, []string{"-v"}, slog.LevelInfo},
		{slog.LevelWarn, []string{"-v", "-v"}, slog.LevelDebug},
		{slog.LevelWarn, []string{"-v", "-v", "-v"}, slog.LevelDebug},
		{slog.LevelWarn, []string{"-debug"}, slog.LevelDebug},
		{slog.LevelWarn, []string{"-v", "-v=false"}, slog.LevelWarn},
		{slog.LevelInfo, nil, slog.LevelInfo},
		{slog.LevelInfo, []string{"-v"}, slog.LevelDebug},
	} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		var lf logFlags
		lf.register(fs, tc.base)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if got := lf.level(); got != tc.want {
			t.Errorf("base %v, flags %q: level %v, want %v", tc.base, tc.args, got, tc.want)
		}
	}
}

func TestRunLogJSONToFile(t *testing.T) {
	flow, err := filepath.Abs("../../examples/wordcount.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	logFile := filepath.Join(dir, "ebb.log")
	code, out, errs := runEbb(t, dir, "run", "-quiet", "-debug", "-log-format", "json", "-log", logFile, flow)
	if code != 0 {
		t.Fatalf("ebb run exited %d:\n%s%s", code, out, errs)
	}
	if strings.Contains(errs, `"msg"`) || strings.Contains(errs, "level=") {
		t.Errorf("log records on stderr with -log:\n%s", errs)
	}
	f, err := os.Open(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if _, ok := rec["level"].(string); !ok {
			t.Errorf("log record without a level: %q", sc.Text())
		}
		if _, ok := rec["msg"].(string); !ok {
			t.Errorf("log record without a msg: %q", sc.Text())
		}
		n++
	}
	if n == 0 {
		t.Errorf("-debug -log %s: no records", logFile)
	}

	// The default level, WARN, says nothing of a run that went well.
	logFile2 := filepath.Join(dir, "quiet.log")
	if code, out, errs := runEbb(t, dir, "run", "-quiet", "-log-format", "json", "-log", logFile2, flow); code != 0 {
		t.Fatalf("ebb run exited %d:\n%s%s", code, out, errs)
	}
	if b, err := os.ReadFile(logFile2); err != nil || len(b) != 0 {
		t.Errorf("default level logged %q, %v; want nothing", b, err)
	}

	if code, _, errs := runEbb(t, dir, "run", "-log-format", "xml", flow); code != 2 || !strings.Contains(errs, "-log-format") {
		t.Errorf("-log-format xml: exit %d, stderr %q; want 2 naming the flag", code, errs)
	}
}
