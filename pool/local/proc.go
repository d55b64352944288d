package local

import (
	"errors"
	"fmt"
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
	pgid     int         // the leader's PID, once started
	cg       *execCgroup // the exec's cgroup, once started, if the pool uses cgroups
	reaped   bool        // the leader is about to be reaped: no more kills by PID
	ended    bool        // every process has exited: nothing more to follow
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
		if s.cg != nil {
			s.cg.kill()
		}
	}
}

// runProc runs a command exec in the exec's goroutine and fills e.res:
// it opens the exec's streams (pipes, or log files with Config.KeepLogs),
// takes a work directory and stages the inputs there, starts argv as the
// leader of a new process group, copies its streams into the exec's tails
// until the leader exits, kills and waits for whatever is left of the
// group, and stores the outputs.
func (e *exec) runProc() {
	// r.Start was set by newExec.
	r := &e.res
	r.ExitCode = -1
	s, err := e.openStreams()
	if e.files.ready != nil {
		close(e.files.ready)
	}
	if err != nil {
		e.failed(err)
		return
	}
	defer s.close()
	work, err := e.makeWork(&e.ctx)
	if err != nil {
		e.failed(err)
		return
	}
	pid, pidfd, err := e.startProc(work, &s)
	s.closeChild() // the child has its own copies
	if err != nil {
		e.failed(err)
		return
	}
	status, err := e.waitProc(pid, pidfd, &s)
	r.End = time.Now()
	if e.files.dir != "" {
		tb := e.a.p.cfg.TailBytes
		r.Stdout = fileTail(filepath.Join(e.files.dir, pool.Stdout.String()), tb)
		r.Stderr = fileTail(filepath.Join(e.files.dir, pool.Stderr.String()), tb)
	} else {
		r.Stdout, r.Stderr = e.stdout.String(), e.stderr.String()
	}
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

// startProc starts argv as the leader of a new process group, with
// exactly cfg.Env and nothing of the pool's environment, and returns its
// PID and a pidfd of it. A command without a slash is looked up in the
// pool's PATH.
func (e *exec) startProc(work string, s *procStreams) (pid, pidfd int, err error) {
	argv := e.files.argv
	path := argv[0]
	if !strings.Contains(path, "/") {
		if path, err = osexec.LookPath(path); err != nil {
			return 0, -1, fmt.Errorf("start: %w", err)
		}
	}
	if e.ctx.Err() != nil {
		return 0, -1, fmt.Errorf("start: %w", e.ctx.Err())
	}
	c := e.a.p.contain
	cg, err := c.execCgroup()
	if err != nil {
		// This exec goes without a cgroup of its own: its process group
		// still holds whatever does not leave the group.
		e.a.p.cfg.Logger.Warn("exec without a cgroup", "exec", e.id, "err", err)
		cg = nil
	}
	sys := &syscall.SysProcAttr{
		Setpgid:   true,
		Pdeathsig: syscall.SIGKILL,
		PidFD:     &pidfd,
	}
	if c.mode == containSubreaper {
		reapers.starting(e)
	}
	attr := &syscall.ProcAttr{
		Dir:   work,
		Env:   e.files.env, // nil is an empty environment here, unlike os.StartProcess's
		Files: []uintptr{e.a.p.devnullFd, uintptr(s.child[0]), uintptr(s.child[1])},
		Sys:   sys,
	}
	if cg != nil {
		sys.UseCgroupFD, sys.CgroupFD = true, cg.fd
		pidfd = -1
		pid, err = syscall.ForkExec(path, argv, attr)
		if err != nil && cgroupRefused(err) {
			// The kernel may refuse a process into a cgroup the pool could
			// make (a cgroup made threaded or given controllers by
			// someone else, a limit on its processes). That cgroup is
			// dropped, and this exec starts without one, as above.
			e.a.p.cfg.Logger.Warn("exec without a cgroup", "exec", e.id, "cgroup", cg.dir, "err", err)
			cg.remove()
			cg, sys.UseCgroupFD, sys.CgroupFD = nil, false, 0
		}
	}
	if cg == nil {
		pidfd = -1
		pid, err = syscall.ForkExec(path, argv, attr)
	}
	if err == nil && pidfd < 0 {
		// No pidfd from clone: the child is not reaped yet, so its PID
		// is still its own.
		if pidfd, err = pidfdOpen(pid); err != nil {
			killGroup(pid)
			reap(pid)
			err = fmt.Errorf("pidfd_open: %w", err)
		}
	}
	if err != nil {
		if cg != nil {
			c.release(cg)
		}
		if c.mode == containSubreaper {
			reapers.ended(e, 0)
		}
		return 0, -1, fmt.Errorf("start: fork/exec %s: %w", path, err)
	}
	if c.mode == containSubreaper {
		reapers.started(pid)
	}
	e.proc.mu.Lock()
	e.proc.pgid = pid
	e.proc.cg = cg
	e.proc.mu.Unlock()
	// A kill that came while the process was starting found no group to
	// signal; it is this goroutine's to send.
	if e.ctx.Err() != nil {
		e.proc.kill()
	}
	return pid, pidfd, nil
}

// cgroupRefused reports whether err, from starting a process into a
// cgroup, may be the cgroup's doing: EBUSY, EOPNOTSUPP, EACCES, EPERM,
// ENODEV and EAGAIN are what clone3 answers for a cgroup that cannot
// take the process. Some of them also come from exec itself (EACCES for
// a file that is not executable); a start that fails again without the
// cgroup reports that second error.
func cgroupRefused(err error) bool {
	for _, e := range []syscall.Errno{syscall.EBUSY, syscall.EOPNOTSUPP, syscall.EACCES, syscall.EPERM, syscall.ENODEV, syscall.EAGAIN} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// waitProc copies the leader's streams until it exits, kills what is left
// of its group while the group ID is still ours (its cgroup when it has
// one), reaps the leader, waits until every other process of the exec has
// exited too, and copies what the streams still hold.
func (e *exec) waitProc(pid, pidfd int, s *procStreams) (syscall.WaitStatus, error) {
	c := streamCopier{e: e, s: s}
	defer c.release()
	errPoll := c.untilExit(pidfd)
	syscall.Close(pidfd)
	e.proc.mu.Lock()
	e.proc.reaped = true
	cg := e.proc.cg
	e.proc.mu.Unlock()
	if cg == nil {
		killGroup(pid) // the leader is a zombie until reaped: the group is ours
	}
	status, err := reap(pid)
	if err != nil {
		return 0, fmt.Errorf("wait: %w", err)
	}
	errContain := e.contained(pid, cg)
	c.rest()
	if errContain != nil {
		return 0, fmt.Errorf("wait: %w", errContain)
	}
	if errPoll != nil {
		return 0, fmt.Errorf("wait: %w", errPoll)
	}
	return status, nil
}

// contained kills what is left of an exec whose leader pid was reaped,
// and returns once none of it is left: its cgroup's processes, or the
// rest of its process group and the orphans of the execs that ended.
func (e *exec) contained(pid int, cg *execCgroup) error {
	if cg != nil {
		if err := e.a.p.contain.release(cg); err != nil {
			return fmt.Errorf("cgroup: %w", err)
		}
		return nil
	}
	waitGroupGone(pid)
	if e.a.p.contain.mode == containSubreaper {
		reapers.ended(e, pid)
	}
	return nil
}
