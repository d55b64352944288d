package local

import (
	"bufio"
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ebbflow/ebb/pool"
)

func TestExitCodes(t *testing.T) {
	p := newPool(t, Config{})
	a := accept(t, p, nil)
	for _, tc := range []struct {
		script string
		code   int
	}{
		{"exit 0", 0},
		{"exit 3", 3},
		{"exit 255", 255},
		{"false", 1},
	} {
		r := run(t, a, tc.script, sh(tc.script))
		if r.ExitCode != tc.code || r.Error != "" || r.Killed {
			t.Errorf("%q: Result = exit %d, error %q, killed %v; want exit %d", tc.script, r.ExitCode, r.Error, r.Killed, tc.code)
		}
		if r.OK() != (tc.code == 0) {
			t.Errorf("%q: OK() = %v", tc.script, r.OK())
		}
		if r.End.Before(r.Start) || r.Start.IsZero() {
			t.Errorf("%q: Start %v, End %v", tc.script, r.Start, r.End)
		}
	}
}

func TestCommandNotFound(t *testing.T) {
	p := newPool(t, Config{})
	a := accept(t, p, nil)
	for _, argv := range [][]string{{"no-such-command-ebb"}, {"/no/such/command"}} {
		r := run(t, a, argv[0], pool.ExecConfig{Argv: argv})
		if r.ExitCode != -1 || r.Killed || !strings.Contains(r.Error, "start:") || !strings.Contains(r.Error, argv[0]) {
			t.Errorf("%s: Result = exit %d, killed %v, error %q; want -1 and a start error naming it", argv[0], r.ExitCode, r.Killed, r.Error)
		}
	}
}

func TestSignalled(t *testing.T) {
	p := newPool(t, Config{})
	a := accept(t, p, nil)
	// A crash is the program's own.
	r := run(t, a, "abort", sh("kill -ABRT $$"))
	if r.ExitCode != -1 || r.Killed || r.Transient || r.Error != "signal: aborted" {
		t.Errorf("Result = exit %d, killed %v, transient %v, error %q; want -1, false, false, signal: aborted", r.ExitCode, r.Killed, r.Transient, r.Error)
	}
	// A SIGTERM nobody in ebb sent (an engine ending the job) may pass on
	// another try, elsewhere.
	r = run(t, a, "term", sh("kill -TERM $$"))
	if r.ExitCode != -1 || r.Killed || !r.Transient || r.Error != "signal: terminated" {
		t.Errorf("Result = exit %d, killed %v, transient %v, error %q; want -1, false, true, signal: terminated", r.ExitCode, r.Killed, r.Transient, r.Error)
	}
	// A SIGKILL nobody in ebb sent (the OOM killer's) may pass on another try.
	r = run(t, a, "oom", sh("kill -KILL $$"))
	if r.ExitCode != -1 || r.Killed || !r.Transient || r.Error != "signal: killed" {
		t.Errorf("Result = exit %d, killed %v, transient %v, error %q; want -1, false, true, signal: killed", r.ExitCode, r.Killed, r.Transient, r.Error)
	}
}

func TestEnvAndDir(t *testing.T) {
	p := newPool(t, Config{})
	a := accept(t, p, nil)
	e := put(t, a, "env", pool.ExecConfig{Argv: []string{"/usr/bin/env"}, Env: []string{"B=2", "A=1"}})
	if r := wait(t, e); r.Stdout != "B=2\nA=1\n" {
		t.Errorf("env of an exec with Env {B=2, A=1} printed %q, want exactly that", r.Stdout)
	}
	r := run(t, a, "empty env", pool.ExecConfig{Argv: []string{"/usr/bin/env"}})
	if r.Stdout != "" {
		t.Errorf("env of an exec without Env printed %q, want nothing inherited", r.Stdout)
	}
	r = run(t, a, "pwd", pool.ExecConfig{Argv: []string{"/bin/pwd"}})
	if dir := filepath.Join(p.allocDir(a.ID()), workName) + "/"; !strings.HasPrefix(r.Stdout, dir) || strings.Count(r.Stdout[len(dir):], "/") > 0 {
		t.Errorf("pwd printed %q, want a directory in %s", r.Stdout, dir)
	}
	r = run(t, a, "stdin", sh("cat; echo end"))
	if r.Stdout != "end\n" {
		t.Errorf("stdin read %q, want nothing (/dev/null)", r.Stdout)
	}
}

func TestProcTailsBounded(t *testing.T) {
	forLogs(t, func(t *testing.T, keep bool) {
		p := newPool(t, Config{TailBytes: 16, KeepLogs: keep})
		a := accept(t, p, nil)
		r := run(t, a, "loud", sh(`i=0; while [ $i -lt 100 ]; do printf 'out%03d ' $i; printf 'err%03d ' $i >&2; i=$((i+1)); done`))
		if want := "out098 out099 "; !strings.HasSuffix(r.Stdout, want) || len(r.Stdout) != 16 {
			t.Errorf("Stdout tail = %q (%d bytes), want 16 bytes ending %q", r.Stdout, len(r.Stdout), want)
		}
		if want := "err098 err099 "; !strings.HasSuffix(r.Stderr, want) || len(r.Stderr) != 16 {
			t.Errorf("Stderr tail = %q (%d bytes), want 16 bytes ending %q", r.Stderr, len(r.Stderr), want)
		}
		e, _ := a.Exec(context.Background(), id("loud"))
		rc, err := e.Logs(context.Background(), pool.Stdout, false)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		all, _ := bufio.NewReader(rc).ReadString(0)
		switch {
		case keep && len(all) != 700:
			// The whole stream is in the log.
			t.Errorf("Logs returned %d bytes, want all 700", len(all))
		case !keep && (len(all) < 16 || len(all) > 32 || !strings.HasSuffix(all, "out099 ")):
			// The tail holds TailBytes to twice that.
			t.Errorf("Logs returned %q (%d bytes), want 16 to 32 bytes ending out099", all, len(all))
		}
	})
}

// A command that writes far more than a pipe holds runs to its end, and
// its Result has the end of what it wrote.
func TestProcLoud(t *testing.T) {
	p := newPool(t, Config{TailBytes: 8})
	a := accept(t, p, nil)
	r := run(t, a, "very loud", sh("head -c 1000000 /dev/zero | tr '\\0' x; echo end; head -c 300000 /dev/zero >&2; echo END >&2"))
	if !r.OK() || r.Stdout != "xxxxend\n" || r.Stderr != "\x00\x00\x00\x00END\n" {
		t.Errorf("Result = %+v, want success with stdout xxxxend, stderr 4 NULs and END", r)
	}
}

// A process that leaves the exec's group (setsid) and keeps its stdout
// open does not hold the exec up: the exec ends when its leader has, and
// takes the escapee with it, unless the pool only kills process groups.
func TestEscapeeHoldsStdout(t *testing.T) {
	adoptOrphans(t)
	for _, mode := range containModes(t) {
		t.Run(mode.String(), func(t *testing.T) {
			p := newPool(t, Config{contain: mode})
			a := accept(t, p, nil)
			// The leader exits only once the escapee has left the group: it
			// waits for a line the escapee writes to a FIFO after setsid.
			fifo := filepath.Join(t.TempDir(), "fifo")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			r := run(t, a, "escapee", sh("setsid sh -c 'echo > "+fifo+"; exec sleep 1000' & echo $!; read x < "+fifo))
			pid, err := strconv.Atoi(strings.TrimSpace(r.Stdout))
			if err != nil || !r.OK() {
				t.Fatalf("Result = %+v, want success and the escapee's PID on stdout", r)
			}
			_, alive := procGroup(pid)
			if want := mode == containGroup; alive != want {
				t.Errorf("the escapee %d alive after its exec: %v, want %v", pid, alive, want)
			}
			syscall.Kill(pid, syscall.SIGKILL)
			var ws syscall.WaitStatus
			syscall.Wait4(pid, &ws, 0, nil) // adopted by adoptOrphans
		})
	}
}

func TestKillProcess(t *testing.T) {
	adoptOrphans(t)
	ctx := context.Background()
	p := newPool(t, Config{})
	a := accept(t, p, nil)
	e := put(t, a, "sleepy", sh("echo $$; sleep 1000 & sleep 1000"))
	pgid := readPgid(t, e)
	if err := e.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	r := wait(t, e)
	if !r.Killed || r.ExitCode != -1 || r.Error != "killed" {
		t.Errorf("Result of a killed command = killed %v, exit %d, error %q; want true, -1, killed", r.Killed, r.ExitCode, r.Error)
	}
	checkGroupGone(t, pgid)
}

func TestFreeKillsProcessTree(t *testing.T) {
	adoptOrphans(t)
	ctx := context.Background()
	p := newPool(t, Config{})
	a := accept(t, p, nil)
	var pgids []int
	for i := range 3 {
		e := put(t, a, strconv.Itoa(i), sh("echo $$; sleep 1000 & sleep 1000"))
		pgids = append(pgids, readPgid(t, e))
	}
	if err := a.Free(ctx); err != nil {
		t.Fatal(err)
	}
	for _, pgid := range pgids {
		checkGroupGone(t, pgid)
	}
}

func TestLeftoversKilledWhenLeaderExits(t *testing.T) {
	adoptOrphans(t)
	p := newPool(t, Config{})
	a := accept(t, p, nil)
	// The leader exits at once, leaving a sleeper in its group.
	r := run(t, a, "daemon", sh("echo $$; sleep 1000 &"))
	if !r.OK() {
		t.Fatalf("Result = %+v, want success", r)
	}
	pgid, err := strconv.Atoi(strings.TrimSpace(r.Stdout))
	if err != nil {
		t.Fatalf("stdout %q: %v", r.Stdout, err)
	}
	checkGroupGone(t, pgid)
}

// readPgid reads the first line of a running exec's stdout, where the
// command printed its shell's PID ($$): the exec's process group ID.
func readPgid(t *testing.T, e pool.Exec) int {
	t.Helper()
	rc, err := e.Logs(context.Background(), pool.Stdout, true)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	line, err := bufio.NewReader(rc).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the PID: %v", err)
	}
	pgid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("reading the PID from %q: %v", line, err)
	}
	return pgid
}
