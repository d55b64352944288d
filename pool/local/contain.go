package local

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// A containMode is how a pool makes sure that nothing an exec started
// outlives it, even processes that left the exec's process group (setsid,
// a daemon's double fork).
type containMode int

const (
	// containAuto is the default: containCgroup where the machine lets
	// the pool make cgroups, else containSubreaper.
	containAuto containMode = iota
	// containCgroup runs each command exec in a cgroup v2 of its own,
	// which cgroup.kill empties whatever its processes did.
	containCgroup
	// containSubreaper makes the pool's process a child subreaper: the
	// orphans of an exec's processes become the process's children, and
	// those that started while only ended execs ran are killed and reaped
	// (see reaper.go).
	containSubreaper
	// containGroup only kills each exec's process group: processes that
	// left the group escape. It is what a pool does when neither of the
	// others is possible, and what benchmarks compare against.
	containGroup
)

func (m containMode) String() string {
	switch m {
	case containCgroup:
		return "cgroup"
	case containSubreaper:
		return "subreaper"
	case containGroup:
		return "process group"
	}
	return "auto"
}

// A container contains a pool's command execs as its mode says. Its
// fields are read-only after newContainer, but for seq.
type container struct {
	mode containMode // resolved: never containAuto
	dir  string      // the pool's cgroup, under which each exec gets one; containCgroup only
	seq  atomic.Uint64

	// free holds the empty cgroups of ended execs, for the next ones: an
	// empty cgroup is as good as a new one, and reusing it saves making
	// and removing one (a quarter of a millisecond and more) per exec.
	// mu guards it.
	mu   sync.Mutex
	free []*execCgroup
}

// newContainer returns the container of a pool whose nonce is given,
// with mode resolved: a cgroup of the pool's own made under the
// process's cgroup for containCgroup, the process made a child subreaper
// for containSubreaper. containAuto falls back to containSubreaper when
// no cgroup can be made, and to containGroup when the process cannot be
// a subreaper either; an explicit mode that is not possible is an error.
func newContainer(nonce string, mode containMode) (*container, error) {
	c := &container{mode: mode}
	switch mode {
	case containAuto, containCgroup:
		dir, err := makePoolCgroup(nonce)
		if err == nil {
			c.mode, c.dir = containCgroup, dir
			return c, nil
		}
		if mode == containCgroup {
			return nil, err
		}
		c.mode = containSubreaper
		fallthrough
	case containSubreaper:
		if err := becomeSubreaper(); err != nil {
			if mode == containSubreaper {
				return nil, err
			}
			c.mode = containGroup
		}
	}
	return c, nil
}

// close removes the pool's cgroup and its execs', which the execs have
// left empty. It is called once the pool's execs have all ended.
func (c *container) close() error {
	if c.dir == "" {
		return nil
	}
	c.mu.Lock()
	free := c.free
	c.free = nil
	c.mu.Unlock()
	var errs []error
	for _, g := range free {
		errs = append(errs, g.remove())
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := syscall.Rmdir(c.dir); err != nil && !errors.Is(err, syscall.ENOENT) {
		return &os.PathError{Op: "rmdir", Path: c.dir, Err: err}
	}
	return nil
}

// makePoolCgroup makes the cgroup of a pool whose nonce is given, under
// the process's own in the cgroup v2 hierarchy, and returns its
// directory. Its name, ebb-local-<pid>-<nonce>, says which process owns
// it: the cgroups of pools whose process died without closing them are
// removed here, the processes their execs left behind killed.
func makePoolCgroup(nonce string) (string, error) {
	mnt, root, err := cgroup2Mount()
	if err != nil {
		return "", err
	}
	own, err := ownCgroup()
	if err != nil {
		return "", err
	}
	rel, ok := strings.CutPrefix(own, root)
	if !ok {
		return "", fmt.Errorf("cgroup %s is outside the mount of %s", own, root)
	}
	parent := filepath.Join(mnt, rel)
	removeDeadPools(parent)
	dir := filepath.Join(parent, "ebb-local-"+strconv.Itoa(os.Getpid())+"-"+nonce)
	if err := syscall.Mkdir(dir, 0o755); err != nil {
		return "", &os.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	return dir, nil
}

// deadPoolWait bounds how long removeDeadPools waits for the cgroup of
// one dead pool to empty once killed: a process in uninterruptible sleep
// outlives SIGKILL, and another process may be cleaning up, or making,
// the same cgroup at the same moment. What is not empty by then is left
// for the next pool to remove.
const deadPoolWait = time.Second

// removeDeadPools removes the pool cgroups in parent whose process is
// gone, after killing what is left in them. It does what it can within
// deadPoolWait a cgroup: a cgroup it cannot empty or remove stays.
func removeDeadPools(parent string) {
	ents, _ := os.ReadDir(parent)
	for _, ent := range ents {
		rest, ok := strings.CutPrefix(ent.Name(), "ebb-local-")
		if !ok || !ent.IsDir() {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			continue
		}
		removeDeadPool(filepath.Join(parent, ent.Name()), time.Now().Add(deadPoolWait))
	}
}

// removeDeadPool kills what is left in the cgroup dir of a dead pool,
// and removes it and its execs' cgroups if it empties by deadline.
func removeDeadPool(dir string, deadline time.Time) {
	g := &execCgroup{dir: dir, fd: -1, events: -1}
	defer g.close()
	var err error
	if g.fd, err = syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0); err != nil {
		return
	}
	if g.events, err = syscall.Open(dir+"/cgroup.events", syscall.O_RDONLY|syscall.O_CLOEXEC, 0); err != nil {
		return
	}
	if err := g.kill(); err != nil {
		// A kernel without cgroup.kill: nothing will empty it but
		// its processes' own end, so it is removed only if empty now.
		deadline = time.Now()
	}
	if empty, err := g.waitEmpty(deadline); err != nil || !empty {
		return
	}
	execs, _ := os.ReadDir(dir)
	for _, e := range execs {
		if e.IsDir() {
			syscall.Rmdir(filepath.Join(dir, e.Name()))
		}
	}
	g.close()
	rmdirBy(dir, deadline)
}

// cgroup2Mount returns where the cgroup v2 hierarchy is mounted and the
// cgroup its mount shows, from /proc/self/mountinfo.
func cgroup2Mount() (mnt, root string, err error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options... - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		f := strings.Fields(pre)
		if len(f) < 5 {
			continue
		}
		return unescapeMount(f[4]), unescapeMount(f[3]), nil
	}
	if err := sc.Err(); err != nil {
		return "", "", err
	}
	return "", "", errors.New("no cgroup v2 hierarchy mounted")
}

// unescapeMount undoes mountinfo's octal escapes of space, tab, newline
// and backslash.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ownCgroup returns the process's cgroup in the v2 hierarchy.
func ownCgroup() (string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(data)) {
		if path, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			return path, nil
		}
	}
	return "", errors.New("the process is in no cgroup v2")
}

// An execCgroup is the cgroup of one command exec. Its processes are
// born into it (clone3's CLONE_INTO_CGROUP) and cannot leave it without
// privileges, whatever they do to their process group or session. Once
// its exec has ended and it is empty, it goes back to its container for
// another exec.
type execCgroup struct {
	dir    string
	fd     int      // the directory, for clone3
	events int      // cgroup.events, open
	buf    [64]byte // to read cgroup.events into

	// killed is set once cgroup.kill was written: Linux (6.18 at least)
	// then kills every process later born into the cgroup with
	// CLONE_INTO_CGROUP, so a killed cgroup is removed, not reused.
	killed atomic.Bool
}

// execCgroup returns an empty cgroup for a command exec about to start,
// or nil when the container does not use cgroups.
func (c *container) execCgroup() (*execCgroup, error) {
	if c.mode != containCgroup {
		return nil, nil
	}
	c.mu.Lock()
	if n := len(c.free); n > 0 {
		g := c.free[n-1]
		c.free = c.free[:n-1]
		c.mu.Unlock()
		return g, nil
	}
	c.mu.Unlock()
	dir := c.dir + "/" + strconv.FormatUint(c.seq.Add(1), 10)
	if err := syscall.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cgroup: %w", &os.PathError{Op: "mkdir", Path: dir, Err: err})
	}
	g := &execCgroup{dir: dir, fd: -1, events: -1}
	var err error
	if g.fd, err = syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0); err == nil {
		g.events, err = syscall.Open(dir+"/cgroup.events", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	}
	if err != nil {
		g.remove()
		return nil, fmt.Errorf("cgroup: %w", &os.PathError{Op: "open", Path: dir, Err: err})
	}
	return g, nil
}

// release empties g, whose exec has ended (its leader reaped), waits
// until its last process has exited, and keeps it for another exec
// unless it had to be killed. The common case, an exec that left nothing
// behind, costs one system call.
func (c *container) release(g *execCgroup) error {
	busy, err := g.populated()
	if err != nil {
		return err
	}
	if busy {
		if err := g.kill(); err != nil {
			return fmt.Errorf("cgroup.kill: %w", err)
		}
		if _, err := g.waitEmpty(time.Time{}); err != nil {
			return err
		}
	}
	if g.killed.Load() {
		return g.remove()
	}
	c.mu.Lock()
	c.free = append(c.free, g)
	c.mu.Unlock()
	return nil
}

// kill sends SIGKILL to every process in the cgroup, its descendants'
// too. It does not wait. It is for the exec's own processes only until
// the exec's leader is reaped: after that the cgroup may be another
// exec's.
func (g *execCgroup) kill() error {
	g.killed.Store(true)
	fd, err := syscall.Openat(g.fd, "cgroup.kill", syscall.O_WRONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	_, err = syscall.Write(fd, []byte("1"))
	return err
}

// remove removes the empty cgroup and closes its files.
func (g *execCgroup) remove() error {
	g.close()
	return rmdirBy(g.dir, time.Time{})
}

// close closes the cgroup's files.
func (g *execCgroup) close() {
	for _, fd := range []int{g.fd, g.events} {
		if fd >= 0 {
			syscall.Close(fd)
		}
	}
	g.fd, g.events = -1, -1
}

// rmdirBy removes the empty cgroup dir, trying again while it is busy
// until deadline (the zero time: no deadline). The last process of a
// cgroup may take a moment after it left cgroup.events to be unlinked
// from it.
func rmdirBy(dir string, deadline time.Time) error {
	for {
		err := syscall.Rmdir(dir)
		switch {
		case err == nil || errors.Is(err, syscall.ENOENT):
			return nil
		case !errors.Is(err, syscall.EBUSY) || !deadline.IsZero() && time.Now().After(deadline):
			return &os.PathError{Op: "rmdir", Path: dir, Err: err}
		}
		syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
	}
}

// populated reports whether processes are left in the cgroup.
func (g *execCgroup) populated() (bool, error) {
	n, err := syscall.Pread(g.events, g.buf[:], 0)
	if err != nil {
		return false, fmt.Errorf("read %s/cgroup.events: %w", g.dir, err)
	}
	return populated(g.buf[:n]), nil
}

// waitEmpty blocks until cgroup.events says that no process is left in
// the cgroup, or until deadline (the zero time: no deadline), and
// reports whether the cgroup is empty. The kernel marks the file with
// POLLPRI when it changes.
func (g *execCgroup) waitEmpty(deadline time.Time) (bool, error) {
	for {
		busy, err := g.populated()
		if err != nil || !busy {
			return err == nil, err
		}
		var timeout *syscall.Timespec
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				return false, nil
			}
			ts := syscall.NsecToTimespec(int64(left))
			timeout = &ts
		}
		if _, err := ppoll([]pollFd{{fd: int32(g.events), events: pollPri}}, timeout); err != nil {
			return false, fmt.Errorf("poll %s/cgroup.events: %w", g.dir, err)
		}
	}
}

// populated reports whether the contents of cgroup.events say that
// processes are left.
func populated(events []byte) bool {
	for line := range bytes.Lines(events) {
		if v, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("populated ")); ok {
			return string(v) != "0"
		}
	}
	return false
}
