package main

import (
	"bufio"
	"bytes"
	"errors"
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
			cmd := exec.Command(os.Args[0], "-test.run=^TestEbbProcess$", "--", "run", "-elastic=false", "-dir", filepath.Join(dir, "d"), flow)
			cmd.Env = append(os.Environ(), "EBB_TEST_EBB_PROCESS=1")
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Read the progress lines (ended by \r or \n) until the task
			// runs; keep everything for the message at the end.
			var all bytes.Buffer
			runningc, readc := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(readc)
				sc := bufio.NewScanner(stderr)
				sc.Split(scanCRLF)
				seen := false
				for sc.Scan() {
					all.WriteString(sc.Text() + "\n")
					if !seen && strings.Contains(sc.Text(), "1 running") {
						seen = true
						close(runningc)
					}
				}
			}()
			exitc := make(chan error, 1)
			go func() { <-readc; exitc <- cmd.Wait() }()
			select {
			case <-runningc:
			case err := <-exitc:
				t.Fatalf("ebb run exited (%v) before its task ran:\n%s", err, all.String())
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				<-exitc
				t.Fatalf("the task did not run within 30s:\n%s", all.String())
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			var err2 error
			select {
			case err2 = <-exitc:
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				<-exitc
				t.Fatalf("ebb run did not end within 60s of %v:\n%s", tc.sig, all.String())
			}
			var ee *exec.ExitError
			if !errors.As(err2, &ee) || ee.ExitCode() != tc.code {
				t.Errorf("ebb run ended with %v after %v, want exit status %d", err2, tc.sig, tc.code)
			}
			want := "interrupted; resume with: ebb resume " + filepath.Join(dir, "d", "state.json")
			if !strings.Contains(all.String(), want) {
				t.Errorf("ebb run printed:\n%s\nwant %q", all.String(), want)
			}
			if pids := processesWith("2999.25"); len(pids) > 0 {
				t.Errorf("the task's process is left: %v", pids)
			}
			checkNoChildren(t)
		})
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
