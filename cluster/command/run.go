package command

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/tokenfile"
)

// maxOutput bounds what is kept of a command's stdout and of its stderr.
const maxOutput = 64 << 10

// tailBuffer keeps the last maxOutput bytes written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if over := len(t.b) - maxOutput; over > 0 {
		t.b = t.b[over:]
	}
	return len(p), nil
}

// run runs argv with env added to this process's environment (without
// the variables that give a worker its token: a command gets only its
// worker's), in a process group of its own, for at most timeout, and returns its stdout.
// It fails with an error wrapping ebb.ErrUnavailable, holding the tail of
// its stderr, when the command cannot start, exits non-zero, or runs past
// timeout (then its whole group is killed); and with ctx's error when ctx
// is done first (the group is killed too).
func run(ctx context.Context, timeout time.Duration, argv, env []string) (string, error) {
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var stdout, stderr tailBuffer
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(tokenfile.Without(os.Environ()), env...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// The output is read by goroutines of os/exec until the pipes close,
	// which a process left in the background by the command may hold
	// open: WaitDelay bounds that wait once the command has exited.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("%q: %v: %w", argv[0], err, ebb.ErrUnavailable)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-tctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if err := ctx.Err(); err != nil {
			return "", err
		}
		return "", fmt.Errorf("%q: killed after %v%s: %w", argv[0], timeout, stderrTail(stderr.b), ebb.ErrUnavailable)
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil, errors.Is(err, exec.ErrWaitDelay):
		return string(stdout.b), nil
	case errors.As(err, &exitErr):
		return "", fmt.Errorf("%q: %v%s: %w", argv[0], exitErr.ProcessState, stderrTail(stderr.b), ebb.ErrUnavailable)
	}
	return "", fmt.Errorf("%q: %v%s: %w", argv[0], err, stderrTail(stderr.b), ebb.ErrUnavailable)
}

// stderrTail formats the last lines of a command's stderr for an error.
func stderrTail(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return ""
	}
	const keep = 1024
	s := string(b)
	if len(s) > keep {
		s = "…" + s[len(s)-keep:]
	}
	return ": " + strings.ReplaceAll(s, "\n", "; ")
}
