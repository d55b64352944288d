package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestEbbProcess is not a test: it is the ebb process the interrupt tests
// start, running mainSignals with the arguments after "--", when
// EBB_TEST_EBB_PROCESS=1.
func TestEbbProcess(t *testing.T) {
	if os.Getenv("EBB_TEST_EBB_PROCESS") != "1" {
		t.Skip("the ebb process of the interrupt tests")
	}
	args := os.Args[slices.Index(os.Args, "--")+1:]
	os.Exit(mainSignals(args, os.Stdout, os.Stderr))
}

// A signal to ebb run, once its task runs, ends it with a message that
// says how to resume and the signal's exit status; the run's task is
// killed on the way out.
func TestInterrupt(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{
		{syscall.SIGINT, 130},
		{syscall.SIGTERM, 143},
	} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			flow := filepath.Join(dir, "sleep.yaml")
			if err := os.WriteFile(flow, []byte("tasks:\n  - name: nap\n    argv: [/bin/sleep, \"2999.25\"]\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			p := startEbb(t, dir, "1 running", "run", "-elastic=false", "-dir", filepath.Join(dir, "d"), flow)
			err := p.signal(t, tc.sig)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != tc.code {
				t.Errorf("ebb run ended with %v after %v, want exit status %d", err, tc.sig, tc.code)
			}
			want := "interrupted; resume with: ebb resume " + filepath.Join(dir, "d", "state.json")
			if !strings.Contains(p.stderr.String(), want) {
				t.Errorf("ebb run printed:\n%s\nwant %q", p.stderr.String(), want)
			}
			if pids := processesWith("2999.25"); len(pids) > 0 {
				t.Errorf("the task's process is left: %v", pids)
			}
			checkNoChildren(t)
		})
	}
}

// The command an interrupted run prints resumes it, from any directory:
// the task that had finished comes from the cache, and the outputs land
// where the run said.
func TestInterruptThenResume(t *testing.T) {
	dir := t.TempDir()
	goOn := filepath.Join(dir, "go-on")
	flow := filepath.Join(dir, "two.yaml")
	content := fmt.Sprintf(`tasks:
  - name: first
    argv: [/bin/sh, -c, "echo one > o"]
    outputs: [o]
  - name: second
    argv: [/bin/sh, -c, "test -e %s || exec /bin/sleep 2998.25; cat in > p"]
    inputs: [{name: in, task: first, output: o}]
    outputs: [p]
`, goOn)
	if err := os.WriteFile(flow, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startEbb(t, dir, "1 done, 0 cached, 1 running", "run", "-elastic=false", "-dir", "d", "-outputs", "out", "two.yaml")
	if err := p.signal(t, syscall.SIGINT); err == nil {
		t.Fatalf("ebb run ended well after SIGINT:\n%s", p.stderr)
	}
	_, resume, ok := strings.Cut(p.stderr.String(), "interrupted; resume with: ")
	resume, _, _ = strings.Cut(resume, "\n")
	args := strings.Fields(resume)
	if !ok || len(args) != 3 || args[0] != "ebb" {
		t.Fatalf("ebb run printed:\n%s\nwant how to resume", p.stderr)
	}
	if err := os.WriteFile(goOn, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runEbb(t, t.TempDir(), append(args[1:2], "-quiet", args[2])...)
	if code != 0 || !strings.Contains(out, "2 tasks, 1 run, 1 from the cache") {
		t.Errorf("%s exited %d:\n%s%s\nwant the first task from the cache", resume, code, out, errs)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "out", "second", "p")); err != nil || string(b) != "one\n" {
		t.Errorf("output second/p = %q, %v; want it in the run's -outputs", b, err)
	}
	checkNoChildren(t)
}

// An ebbProc is ebb, run by the test binary (TestEbbProcess).
type ebbProc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	exitc  chan error // how it exited, once it did and its stderr was read
}

// startEbb starts ebb with args in dir and returns once a line of its
// stderr (lines end with \r or \n, as the progress line does) contains
// marker. The process is killed, if need be, when t ends.
func startEbb(t *testing.T, dir, marker string, args ...string) *ebbProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestEbbProcess$", "--"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "EBB_TEST_EBB_PROCESS=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &ebbProc{cmd: cmd, stderr: new(syncBuffer), exitc: make(chan error, 1)}
	seenc := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Split(scanCRLF)
		seen := false
		for sc.Scan() {
			p.stderr.Write([]byte(sc.Text() + "\n"))
			if !seen && strings.Contains(sc.Text(), marker) {
				seen = true
				close(seenc)
			}
		}
		p.exitc <- cmd.Wait()
	}()
	t.Cleanup(func() {
		select {
		case err := <-p.exitc: // it exited; signal put this back
			p.exitc <- err
		default:
			cmd.Process.Kill()
			<-p.exitc
		}
	})
	select {
	case <-seenc:
	case err := <-p.exitc:
		p.exitc <- err
		t.Fatalf("ebb exited (%v) before printing %q:\n%s", err, marker, p.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("ebb did not print %q within 30s:\n%s", marker, p.stderr)
	}
	return p
}

// signal sends sig to p and returns how p exited.
func (p *ebbProc) signal(t *testing.T, sig os.Signal) error {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exitc:
		p.exitc <- err
		return err
	case <-time.After(60 * time.Second):
		t.Fatalf("ebb did not end within 60s of %v:\n%s", sig, p.stderr)
		return nil
	}
}

// scanCRLF splits at \r or \n, as a terminal would show the lines.
func scanCRLF(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}
