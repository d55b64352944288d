package local

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// Linux system call numbers and flags that package syscall lacks.
const (
	sysPidfdOpen = 434 // pidfd_open(2), the same on every architecture
	pollIn       = 0x1 // POLLIN
	pollPri      = 0x2 // POLLPRI
)

// killGroup sends SIGKILL to every process of the group. A group that is
// already gone is no error.
func killGroup(pgid int) {
	syscall.Kill(-pgid, syscall.SIGKILL)
}

// reap waits for the child pid to exit, reaps it and returns its status.
func reap(pid int) (syscall.WaitStatus, error) {
	var status syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &status, 0, nil)
		if err != syscall.EINTR {
			return status, err
		}
	}
}

// pidfdOpen returns a pidfd of process pid.
func pidfdOpen(pid int) (int, error) {
	fd, _, errno := syscall.Syscall(sysPidfdOpen, uintptr(pid), 0, 0) // always close-on-exec
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// A pollFd is poll(2)'s struct pollfd.
type pollFd struct {
	fd      int32
	events  int16
	revents int16
}

// ppoll waits until one of fds is ready, or timeout has passed when it is
// not nil, and returns how many are. Poll ignores an fd below zero. A
// pidfd is ready when its process has exited, a pipe's read end when it
// holds bytes or every writer has closed it.
func ppoll(fds []pollFd, timeout *syscall.Timespec) (int, error) {
	for {
		n, _, errno := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)),
			uintptr(unsafe.Pointer(timeout)), 0, 0, 0)
		switch errno {
		case 0:
			return int(n), nil
		case syscall.EINTR, syscall.EAGAIN:
			continue
		}
		return 0, errno
	}
}

// waitGroupGone blocks until every process left in the group pgid has
// exited, once the group was sent SIGKILL. Its leader was reaped by then,
// so the group's ID stays in use only while some member lives on, and
// cannot have been reused. The common case, a group with nothing left,
// costs one system call.
//
// Members that have exited but wait for init to reap them (they were
// orphaned when the leader died) are zombies, which hold nothing but a
// PID; they are not waited for. Members this process may not signal
// (a setuid program) are not waited for either: SIGKILL did not reach
// them.
func waitGroupGone(pgid int) {
	if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
		return
	}
	for _, pid := range groupMembers(pgid) {
		waitGone(pid, pgid)
	}
}

// groupMembers returns the processes of group pgid that have not exited,
// as listed in /proc.
func groupMembers(pgid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		if g, alive := procGroup(pid); g == pgid && alive {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procGroup returns the process group of pid, read from /proc/<pid>/stat,
// and whether the process has not exited (is neither a zombie nor dead).
// It returns 0 when pid is gone.
func procGroup(pid int) (pgid int, alive bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(data[i+1:])
	if len(f) < 3 {
		return 0, false
	}
	g, err := strconv.Atoi(string(f[2]))
	if err != nil {
		return 0, false
	}
	state := f[0][0]
	return g, state != 'Z' && state != 'X' && state != 'x'
}

// waitGone blocks until process pid, a member of group pgid that may not
// be our child, has exited. A pidfd pins the process while it is checked
// to still be that group's member, so a reused PID is never waited for.
func waitGone(pid, pgid int) {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.EPERM) {
		return
	}
	fd, err := pidfdOpen(pid)
	if err != nil {
		return // gone already
	}
	defer syscall.Close(fd)
	if g, alive := procGroup(pid); g != pgid || !alive {
		return
	}
	ppoll([]pollFd{{fd: int32(fd), events: pollIn}}, nil)
}
