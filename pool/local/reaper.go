package local

import (
	"bytes"
	"errors"
	"math"
	"os"
	"strconv"
	"sync"
	"syscall"
	"unsafe"
)

// Without cgroups, a pool contains its execs by making its process a
// child subreaper (prctl PR_SET_CHILD_SUBREAPER): a process whose parent
// exits is re-parented to the pool's process instead of init, however far
// it went from its exec's process group. When an exec ends, the process's
// children that are orphans of ended execs are killed and reaped, and
// theirs in turn as they are re-parented.
//
// An orphan does not say which exec it came from; its start time does
// say which execs were running then. An orphan is swept once every exec
// that was running when it started has ended, and not before: while an
// exec that might be its runs, it is left alone.
//
// The subreaper flag is the process's, not a pool's, so the table of
// running execs is the process's too: every pool in the process shares
// reapers, so that one pool's sweep knows another's running execs and
// their leaders, which are children of the process as well. It is the
// package's one variable, and it holds nothing but what the kernel's
// flag makes process-wide.
var reapers reaperTable

// A reaperTable knows the running command execs of every pool of the
// process that uses containSubreaper. mu guards its fields.
type reaperTable struct {
	mu      sync.Mutex
	running map[*exec]uint64 // the clock tick each exec started at (or just before)
	leaders map[int]struct{} // the PIDs of running execs' leaders
}

// clockTicks is USER_HZ, the unit of a process's start time in
// /proc/<pid>/stat: 100 on every Linux architecture.
const clockTicks = 100

// becomeSubreaper makes the process a child subreaper.
func becomeSubreaper() error {
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return &os.SyscallError{Syscall: "prctl(PR_SET_CHILD_SUBREAPER)", Err: errno}
	}
	return nil
}

// nowTicks returns the time since boot in clock ticks, the clock of a
// process's start time, rounded down as the kernel rounds it.
func nowTicks() uint64 {
	const clockBoottime = 7
	var ts syscall.Timespec
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockBoottime, uintptr(unsafe.Pointer(&ts)), 0)
	return uint64(ts.Sec)*clockTicks + uint64(ts.Nsec)/(1e9/clockTicks)
}

// starting registers e before its leader is forked: any process that
// starts from now on may be e's.
func (t *reaperTable) starting(e *exec) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.running == nil {
		t.running = make(map[*exec]uint64)
		t.leaders = make(map[int]struct{})
	}
	t.running[e] = nowTicks()
}

// started registers the leader of e, a child of the process that no
// sweep may take for an orphan.
func (t *reaperTable) started(pid int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.leaders[pid] = struct{}{}
}

// ended forgets e, whose leader pid (0 if it never started) was reaped,
// and sweeps the orphans no running exec may own.
func (t *reaperTable) ended(e *exec, pid int) {
	t.mu.Lock()
	delete(t.running, e)
	delete(t.leaders, pid)
	t.mu.Unlock()
	t.sweep()
}

// sweep kills and reaps the process's children that are orphans of ended
// execs, until a pass finds none: killing one re-parents its own children
// to the process.
func (t *reaperTable) sweep() {
	self := os.Getpid()
	var selfGroup, selfSession int
	if st, ok := readStat(self); ok {
		selfGroup, selfSession = st.pgid, st.sid
	}
	for {
		swept := false
		for _, pid := range children(self) {
			st, ok := readStat(pid)
			if !ok || st.ppid != self {
				continue
			}
			// A child in the process's own group and session was started
			// by other code of the program (os/exec): an exec's
			// processes start in a group of their own.
			if st.pgid == selfGroup && st.sid == selfSession {
				continue
			}
			if !t.orphan(pid, st.start) {
				continue
			}
			syscall.Kill(pid, syscall.SIGKILL)
			reap(pid) // a child: its PID is not reused until reaped
			swept = true
		}
		if !swept {
			return
		}
	}
}

// orphan reports whether a child of the process that started at the
// given tick is an orphan of ended execs: no leader of a running exec,
// and started before every running exec. Ticks are coarse; a child that
// started in the tick a running exec started in is left to that exec.
func (t *reaperTable) orphan(pid int, start uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.leaders[pid]; ok {
		return false
	}
	oldest := uint64(math.MaxUint64)
	for _, s := range t.running {
		oldest = min(oldest, s)
	}
	return start < oldest
}

// children returns the children of process pid, as its threads list them:
// an orphan is re-parented to any live thread of its subreaper.
func children(pid int) []int {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var pids []int
	for _, task := range tasks {
		data, err := os.ReadFile(dir + "/" + task.Name() + "/children")
		if err != nil {
			continue
		}
		for f := range bytes.FieldsSeq(data) {
			if n, err := strconv.Atoi(string(f)); err == nil {
				pids = append(pids, n)
			}
		}
	}
	return pids
}

// A procStat is what sweeps read of /proc/<pid>/stat.
type procStat struct {
	state           byte
	ppid, pgid, sid int
	start           uint64 // clock ticks after boot
}

// readStat reads /proc/<pid>/stat; it reports false when pid is gone.
func readStat(pid int) (procStat, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	return parseStat(data)
}

// parseStat parses the contents of /proc/<pid>/stat.
func parseStat(data []byte) (procStat, bool) {
	// pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt
	// majflt cmajflt utime stime cutime cstime priority nice num_threads
	// itrealvalue starttime ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := bytes.Fields(data[i+1:])
	if len(f) < 20 || len(f[0]) == 0 {
		return procStat{}, false
	}
	var st procStat
	st.state = f[0][0]
	var errs [4]error
	st.ppid, errs[0] = strconv.Atoi(string(f[1]))
	st.pgid, errs[1] = strconv.Atoi(string(f[2]))
	st.sid, errs[2] = strconv.Atoi(string(f[3]))
	st.start, errs[3] = strconv.ParseUint(string(f[19]), 10, 64)
	return st, errors.Join(errs[:]...) == nil
}
