package local

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/ebbflow/ebb/pool"
)

// procStreams are where a command's stdout and stderr go. With
// Config.KeepLogs they are files in the exec's directory, which the child
// writes itself. Otherwise they are pipes, whose read ends the exec's
// goroutine copies into the exec's tails while it waits for the leader to
// exit, polling them together with the leader's pidfd: no other goroutine,
// no file. The descriptors are raw, close-on-exec, and never in the
// runtime's poller.
type procStreams struct {
	child [2]int // what the child gets as 1 and 2; -1 once closed
	pipe  [2]int // the read ends of the pipes; -1 for files, or once closed
}

// pipeBufSize is the size of the buffers pipes are read with: a Linux
// pipe's default capacity, so one read empties a full pipe.
const pipeBufSize = 64 << 10

// drainReads bounds the reads of the pipes once the exec's group has
// exited: a process that left the group may still hold them open and
// keep writing.
const drainReads = 32

// openStreams makes the exec's log files, or its pipes. The caller closes
// them.
func (e *exec) openStreams() (procStreams, error) {
	s := procStreams{child: [2]int{-1, -1}, pipe: [2]int{-1, -1}}
	if e.files.dir != "" {
		if err := os.MkdirAll(e.files.dir, 0o755); err != nil {
			return s, fmt.Errorf("exec directory: %w", err)
		}
		for i, stream := range [2]pool.Stream{pool.Stdout, pool.Stderr} {
			path := filepath.Join(e.files.dir, stream.String())
			fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_TRUNC|syscall.O_CLOEXEC, 0o644)
			if err != nil {
				s.close()
				return s, fmt.Errorf("log file: %w", &os.PathError{Op: "open", Path: path, Err: err})
			}
			s.child[i] = fd
		}
		return s, nil
	}
	for i := range 2 {
		var p [2]int
		if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
			s.close()
			return s, fmt.Errorf("pipe: %w", err)
		}
		s.pipe[i], s.child[i] = p[0], p[1]
	}
	return s, nil
}

// closeChild closes the child's ends, once it has its own copies.
func (s *procStreams) closeChild() {
	for i, fd := range s.child {
		if fd >= 0 {
			syscall.Close(fd)
			s.child[i] = -1
		}
	}
}

// close closes every descriptor left open.
func (s *procStreams) close() {
	s.closeChild()
	for i := range s.pipe {
		s.closePipe(i)
	}
}

func (s *procStreams) closePipe(i int) {
	if s.pipe[i] >= 0 {
		syscall.Close(s.pipe[i])
		s.pipe[i] = -1
	}
}

// A streamCopier copies a command's pipes into its exec's tails. Its
// buffer comes from the pool's, when the first bytes arrive, and goes back
// with release.
type streamCopier struct {
	e   *exec
	s   *procStreams
	buf *[pipeBufSize]byte
}

// untilExit copies the pipes until the leader, whose pidfd is given, has
// exited. A pipe whose writers have all closed it is closed.
func (c *streamCopier) untilExit(pidfd int) error {
	fds := [3]pollFd{
		{fd: int32(pidfd), events: pollIn},
		{fd: int32(c.s.pipe[0]), events: pollIn}, // a negative fd is ignored
		{fd: int32(c.s.pipe[1]), events: pollIn},
	}
	for {
		if _, err := ppoll(fds[:], nil); err != nil {
			return err
		}
		for i := range 2 {
			if fds[1+i].revents != 0 && !c.read(i) {
				fds[1+i].fd = -1
			}
		}
		if fds[0].revents != 0 {
			return nil
		}
	}
}

// rest copies what the pipes still hold once every process of the group
// has exited, without waiting for the pipes to close.
func (c *streamCopier) rest() {
	fds := [2]pollFd{
		{fd: int32(c.s.pipe[0]), events: pollIn},
		{fd: int32(c.s.pipe[1]), events: pollIn},
	}
	zero := syscall.Timespec{}
	for range drainReads {
		if fds[0].fd < 0 && fds[1].fd < 0 {
			return
		}
		if n, err := ppoll(fds[:], &zero); err != nil || n == 0 {
			return
		}
		for i := range 2 {
			if fds[i].revents != 0 && !c.read(i) {
				fds[i].fd = -1
			}
		}
	}
}

// read reads what pipe i holds into its tail, after poll found it ready,
// so that the read does not block. It reports whether the pipe is still
// open: at its end, or on an error, read closes it.
func (c *streamCopier) read(i int) bool {
	if c.buf == nil {
		c.buf = c.e.a.p.pipeBufs.Get().(*[pipeBufSize]byte)
	}
	n, err := syscall.Read(c.s.pipe[i], c.buf[:])
	switch {
	case n > 0:
		t := &c.e.stdout
		if i == 1 {
			t = &c.e.stderr
		}
		t.Write(c.buf[:n])
		return true
	case err == syscall.EINTR || err == syscall.EAGAIN:
		return true
	}
	c.s.closePipe(i)
	return false
}

// release gives the buffer back to the pool.
func (c *streamCopier) release() {
	if c.buf != nil {
		c.e.a.p.pipeBufs.Put(c.buf)
		c.buf = nil
	}
}
