package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb/runner"
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

func TestProgressPiped(t *testing.T) {
	var buf bytes.Buffer
	l := &progressLine{w: &buf, every: 5 * time.Second}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l.show(t0, runner.Progress{Ready: 4})
	l.show(t0.Add(time.Second), runner.Progress{Running: 1, Ready: 3})    // too soon
	l.show(t0.Add(6*time.Second), runner.Progress{Running: 1, Ready: 3})  // changed, 5 s on
	l.show(t0.Add(12*time.Second), runner.Progress{Running: 1, Ready: 3}) // unchanged
	l.event("stealer: took an alloc")
	l.show(t0.Add(13*time.Second), runner.Progress{Done: 4}) // too soon: end prints it
	l.end()
	want := "tasks: 0 done, 0 cached, 0 running, 4 waiting\n" +
		"tasks: 0 done, 0 cached, 1 running, 3 waiting\n" +
		"stealer: took an alloc\n" +
		"tasks: 4 done, 0 cached, 0 running, 0 waiting\n"
	if got := buf.String(); got != want {
		t.Errorf("piped progress:\n%q\nwant\n%q", got, want)
	}

	// On a terminal the line is rewritten in place.
	buf.Reset()
	l = &progressLine{w: &buf, tty: true, every: 5 * time.Second}
	l.show(t0, runner.Progress{Ready: 4})
	l.show(t0.Add(time.Second), runner.Progress{Done: 4})
	l.end()
	if got := buf.String(); strings.Count(got, "\r") != 2 || !strings.HasSuffix(got, "\n") {
		t.Errorf("terminal progress: %q", got)
	}
}

func TestRunProgressPiped(t *testing.T) {
	flow, err := filepath.Abs("../../examples/wordcount.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	code, out, errs := runEbb(t, dir, "run", flow)
	if code != 0 {
		t.Fatalf("ebb run exited %d:\n%s%s", code, out, errs)
	}
	if strings.Contains(errs, "\r") {
		t.Errorf("progress on a pipe has \\r:\n%q", errs)
	}
	if isTerminal(io.Discard) || isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is a terminal")
	}
}
