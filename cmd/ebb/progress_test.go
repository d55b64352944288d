package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/creack/pty"
)

// steps writes a flow of three tasks, one after the other, each taking
// a moment, so that the progress changes while it runs.
func steps(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "steps.yaml")
	flow := `tasks:
  - {name: one, argv: [sh, -c, "sleep 0.4; echo 1 > out"], resources: "cpu=1,mem=64MiB", outputs: [out]}
  - {name: two, argv: [sh, -c, "sleep 0.4; cat in > out"], resources: "cpu=1,mem=64MiB", outputs: [out], inputs: [{name: in, task: one, output: out}]}
  - {name: three, argv: [sh, -c, "sleep 0.4; cat in > out"], resources: "cpu=1,mem=64MiB", outputs: [out], inputs: [{name: in, task: two, output: out}]}
`
	if err := os.WriteFile(path, []byte(flow), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// progressLine matches what ebb run prints on stderr when it is not a
// terminal: its status groups and its events, one a line.
var progressLine = regexp.MustCompile(`^(run: (waiting for the primary alloc .*|tasks: \d+ done, \d+ cached, \d+ running, \d+ waiting)|stealer: .*|workers: .*|worker .*)$`)

// On a pipe, ebb run prints its progress line by line: no carriage
// return, no escape code, each line a status group or an event, ending
// with the last progress.
func TestRunProgressPiped(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := runEbb(t, dir, "run", steps(t, dir))
	if code != 0 {
		t.Fatalf("ebb run exited %d:\n%s%s", code, out, errs)
	}
	if strings.ContainsAny(errs, "\r\x1b") {
		t.Errorf("progress on a pipe has \\r or an escape code:\n%q", errs)
	}
	lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
	for _, l := range lines {
		if !progressLine.MatchString(l) {
			t.Errorf("stderr line %q is not a progress line", l)
		}
	}
	var last string
	for _, l := range lines {
		if strings.HasPrefix(l, "run: tasks:") {
			last = l
		}
	}
	if want := "run: tasks: 3 done, 0 cached, 0 running, 0 waiting"; last != want {
		t.Errorf("last progress %q, want %q:\n%s", last, want, errs)
	}
	if isTerminal(io.Discard) || isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is a terminal")
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	if isTerminal(devnull) {
		t.Error("/dev/null is a terminal")
	}
}

// On a terminal, ebb run draws its status and redraws it in place as the
// run goes: the progress shows, and updates, and stays at the end.
func TestRunProgressTerminal(t *testing.T) {
	bin := buildEbb(t)
	dir := t.TempDir()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	if !isTerminal(tty) {
		t.Fatal("a pseudo-terminal is not a terminal")
	}
	cmd := exec.Command(bin, "run", "-dir", filepath.Join(dir, ".ebb"), steps(t, dir))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TERM=xterm")
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close() // the child holds it now; reads end once it exits
	var screen bytes.Buffer
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(&screen, ptmx)
		copied <- err
	}()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ebb run: %v\n%s%s", err, stdout.String(), screen.String())
	}
	if err := <-copied; err != nil && !errors.Is(err, syscall.EIO) {
		t.Fatal(err)
	}
	got := screen.String()
	erase := "\x1b[1A\x1b[2K"
	if !strings.Contains(got, "run: tasks: 0 done, 0 cached, 1 running, 2 waiting") {
		t.Errorf("the progress of the first task never showed:\n%q", got)
	}
	if !strings.Contains(got, "  one: on ") {
		t.Errorf("the running task never showed under the progress:\n%q", got)
	}
	if strings.Count(got, erase) < 2 {
		t.Errorf("the status was not redrawn in place (%d erased lines):\n%q", strings.Count(got, erase), got)
	}
	last := got[strings.LastIndex(got, erase)+len(erase):]
	if !strings.Contains(last, "run: tasks: 3 done, 0 cached, 0 running, 0 waiting") {
		t.Errorf("the last status drawn is not the end of the run:\n%q", last)
	}
	if !strings.Contains(stdout.String(), "3 tasks, 3 run") {
		t.Errorf("summary on stdout:\n%s", stdout.String())
	}
}
