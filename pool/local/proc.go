package local

import (
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ebbflow/ebb/pool"
)

// procState is what others than the exec's goroutine need of a command
// exec's processes: the group to kill, and the log followers to stop
// when the processes are gone. mu guards every field. A kill is sent
// only while the leader is not yet reaped, so the group ID is still ours
// (a reaped leader's PID may be reused); a signal does not block, so it is
// sent under mu.
type procState struct {
	mu       sync.Mutex
	pgid     int  // the leader's PID, once started
	reaped   bool // the leader is about to be reaped: no more kills by PID
	ended    bool // every process has exited: nothing more to follow
	watchers map[*fileFollower]struct{}
}

// watch registers a log follower, whose watcher endWatch will stop, and
// reports whether the exec is still running: if not, there is nothing to
// watch for.
func (s *procState) watch(r *fileFollower) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	if s.watchers == nil {
		s.watchers = make(map[*fileFollower]struct{})
	}
	s.watchers[r] = struct{}{}
	return true
}

// unwatch forgets a closed follower.
func (s *procState) unwatch(r *fileFollower) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.watchers, r)
}

// endWatch stops the watchers of every follower once the exec's processes
// have all exited: followers read the rest of the file without them.
func (s *procState) endWatch() {
	s.mu.Lock()
	s.ended = true
	ws := s.watchers
	s.watchers = nil
	s.mu.Unlock()
	for r := range ws {
		r.ino.Close()
	}
}

// kill sends SIGKILL to the process group if it is running.
func (s *procState) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pgid > 0 && !s.reaped {
		killGroup(s.pgid)
	}
}

// runProc runs a command exec in the exec's goroutine and fills e.res:
// it makes the exec's directory and log files, stages the inputs, starts
// argv as the leader of a new process group, waits for the leader, kills
// and waits for whatever is left of the group, and stores the outputs.
func (e *exec) runProc() {
	r := &e.res
	r.Start = e.start
	r.ExitCode = -1
	stdout, stderr, err := e.openLogs()
	close(e.ready)
	if err != nil {
		e.failed(err)
		return
	}
	work, err := e.makeWork(&e.ctx)
	if err != nil {
		stdout.Close()
		stderr.Close()
		e.failed(err)
		return
	}
	proc, err := e.startProc(work, stdout, stderr)
	stdout.Close() // the child has its own copies
	stderr.Close()
	if err != nil {
		e.failed(err)
		return
	}
	status, err := e.waitProc(proc)
	r.End = time.Now()
	tb := e.a.p.cfg.TailBytes
	r.Stdout = fileTail(filepath.Join(e.dir, pool.Stdout.String()), tb)
	r.Stderr = fileTail(filepath.Join(e.dir, pool.Stderr.String()), tb)
	switch {
	case err != nil:
		r.Error = err.Error()
	case status.Signaled() && e.ctx.Err() != nil:
		r.Killed = true
		r.Error = "killed"
	case status.Signaled():
		r.Error = "signal: " + status.Signal().String()
		// Nobody in ebb sent it: a SIGKILL is most likely the kernel's
		// OOM killer, and another try may find more memory; a SIGTERM is
		// how engines stop work (Slurm ending a job signals every process
		// in it, a node being drained), and another try elsewhere may
		// pass. A crash (SIGSEGV, SIGABRT) is the program's own.
		sig := status.Signal()
		r.Transient = sig == syscall.SIGKILL || sig == syscall.SIGTERM
	default:
		r.ExitCode = status.ExitStatus()
		if r.ExitCode != 0 {
			return // the exit code says it all
		}
		r.Outputs = e.outputs(work)
	}
}

// openLogs makes the exec's directory and the files its streams go to.
func (e *exec) openLogs() (stdout, stderr *os.File, err error) {
	if err := os.MkdirAll(e.dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("exec directory: %w", err)
	}
	stdout, err = os.Create(filepath.Join(e.dir, pool.Stdout.String()))
	if err != nil {
		return nil, nil, fmt.Errorf("log file: %w", err)
	}
	stderr, err = os.Create(filepath.Join(e.dir, pool.Stderr.String()))
	if err != nil {
		stdout.Close()
		return nil, nil, fmt.Errorf("log file: %w", err)
	}
	return stdout, stderr, nil
}

// startProc starts argv as the leader of a new process group, with
// exactly cfg.Env and nothing of the pool's environment. A command
// without a slash is looked up in the pool's PATH.
func (e *exec) startProc(work string, stdout, stderr *os.File) (*os.Process, error) {
	argv := e.cfg.Argv
	path := argv[0]
	if !strings.Contains(path, "/") {
		var err error
		if path, err = osexec.LookPath(path); err != nil {
			return nil, fmt.Errorf("start: %w", err)
		}
	}
	env := e.cfg.Env
	if env == nil {
		env = []string{} // nil would inherit the pool's
	}
	if e.ctx.Err() != nil {
		return nil, fmt.Errorf("start: %w", e.ctx.Err())
	}
	proc, err := os.StartProcess(path, argv, &os.ProcAttr{
		Dir:   work,
		Env:   env,
		Files: []*os.File{e.a.p.devnull, stdout, stderr},
		Sys: &syscall.SysProcAttr{
			Setpgid:   true,
			Pdeathsig: syscall.SIGKILL,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	e.proc.mu.Lock()
	e.proc.pgid = proc.Pid
	e.proc.mu.Unlock()
	// A kill that came while the process was starting found no group to
	// signal; it is this goroutine's to send.
	if e.ctx.Err() != nil {
		e.proc.kill()
	}
	return proc, nil
}

// waitProc waits for the leader to exit, kills what is left of its group
// while the group ID is still ours, reaps the leader, and waits until the
// rest of the group has exited too.
func (e *exec) waitProc(proc *os.Process) (syscall.WaitStatus, error) {
	pgid := proc.Pid
	if err := waitExited(pgid); err != nil {
		return 0, fmt.Errorf("wait: %w", err)
	}
	e.proc.mu.Lock()
	e.proc.reaped = true
	e.proc.mu.Unlock()
	killGroup(pgid) // the leader is a zombie until reaped: the group is ours
	state, err := proc.Wait()
	if err != nil {
		return 0, fmt.Errorf("wait: %w", err)
	}
	waitGroupGone(pgid)
	return state.Sys().(syscall.WaitStatus), nil
}
