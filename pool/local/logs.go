package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// Logs returns one of the exec's streams. Without follow it returns what
// was written so far; with follow it also returns what is written later,
// until the exec has ended (then io.EOF) or ctx is done (then ctx's
// error). The caller closes the reader.
//
// With Config.KeepLogs, a command's streams are read from their files in
// the exec's directory, whole; following one watches its file with
// inotify. Otherwise, and for a func, the streams are the exec's
// in-memory tails: a reader gets what they still hold, and a follower
// that falls more than Config.TailBytes behind skips ahead.
//
// Logs fails with ebb.ErrInvalid for an unknown stream, ebb.ErrExpired
// once the alloc's end has begun, ebb.ErrNotExist after Remove, and
// ebb.ErrUnavailable when the system has no inotify instance to spare.
func (e *exec) Logs(ctx context.Context, stream pool.Stream, follow bool) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	if stream != pool.Stdout && stream != pool.Stderr {
		return nil, fmt.Errorf("local: logs of exec %s: stream %v: %w", e.id, stream, ebb.ErrInvalid)
	}
	if e.logDir() == "" {
		t := &e.stdout
		if stream == pool.Stderr {
			t = &e.stderr
		}
		if !follow {
			return io.NopCloser(bytes.NewReader(t.window())), nil
		}
		return &tailReader{ctx: ctx, t: t, done: e.doneChan()}, nil
	}
	select {
	case <-e.files.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	path := filepath.Join(e.files.dir, stream.String())
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		// The files could not be made (the Result says why), or
		// Remove or the alloc's end is deleting them.
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	if err != nil {
		return nil, fmt.Errorf("local: logs of exec %s: %w", e.id, err)
	}
	if !follow {
		return f, nil
	}
	r, err := e.follow(ctx, f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("local: following %s of exec %s: %w", stream, e.id, err)
	}
	return r, nil
}

// A tailReader follows a stream in its tail. It keeps the ctx of
// the Logs call, as a reader must: Read takes none.
type tailReader struct {
	ctx   context.Context
	t     *tail
	done  <-chan struct{} // the exec's
	off   int64
	final bool // the exec has ended: what the tail holds now is all
}

func (r *tailReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, off, waitc := r.t.readAt(r.off, p)
		r.off = off
		if n > 0 {
			return n, nil
		}
		if r.final {
			return 0, io.EOF
		}
		select {
		case <-waitc:
		case <-r.done:
			r.final = true
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		}
	}
}

func (r *tailReader) Close() error { return nil }

// A fileFollower follows a command's log file: at its end it waits for
// inotify to report a write, for the exec to end, or for ctx. Its watcher
// goroutine, which reads inotify events, ends when the reader is closed,
// when ctx is done, or when the exec ends, whichever comes first: it never
// outlives the exec, so Close of the pool leaves none. Read is not safe
// for concurrent use, as usual for readers; Close may be called
// concurrently with it.
type fileFollower struct {
	ctx     context.Context // the Logs call's, as for tailReader
	f       *os.File
	s       *procState      // where the follower is registered
	done    <-chan struct{} // the exec's
	final   bool
	notec   chan struct{} // a write happened since the last read at the end
	ino     *os.File      // the inotify instance
	watchc  chan struct{} // closed when the watcher goroutine is over
	stop    func() bool   // unregisters the close of ino at ctx's end
	closing sync.Once
}

// follow returns a follower of f, the exec's log file, or f itself when
// the exec has ended and nothing more will be written.
func (e *exec) follow(ctx context.Context, f *os.File) (io.ReadCloser, error) {
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %v: %w", err, ebb.ErrUnavailable)
	}
	if _, err := syscall.InotifyAddWatch(fd, f.Name(), syscall.IN_MODIFY); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("inotify: %w", err)
	}
	// A non-blocking descriptor goes to the runtime's poller, so the
	// watcher's Read parks its goroutine and Close wakes it.
	r := &fileFollower{
		ctx:    ctx,
		f:      f,
		s:      e.proc,
		done:   e.doneChan(),
		notec:  make(chan struct{}, 1),
		ino:    os.NewFile(uintptr(fd), "inotify"),
		watchc: make(chan struct{}),
	}
	if !r.s.watch(r) {
		r.ino.Close()
		return f, nil
	}
	r.stop = context.AfterFunc(ctx, func() { r.ino.Close() })
	go r.watch()
	return r, nil
}

// watch turns inotify events into notes on notec until ino is closed.
func (r *fileFollower) watch() {
	defer close(r.watchc)
	buf := make([]byte, 4096)
	for {
		if _, err := r.ino.Read(buf); err != nil {
			return
		}
		select {
		case r.notec <- struct{}{}:
		default: // a note is pending already
		}
	}
}

func (r *fileFollower) Read(p []byte) (int, error) {
	for {
		n, err := r.f.Read(p)
		if n > 0 || err != io.EOF {
			return n, err
		}
		if r.final {
			return 0, io.EOF
		}
		select {
		case <-r.notec:
		case <-r.done:
			r.final = true // every process of the group has exited
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		}
	}
}

// Close stops the watcher, waits for it, and closes the file.
func (r *fileFollower) Close() error {
	var err error
	r.closing.Do(func() {
		r.s.unwatch(r)
		r.stop()
		r.ino.Close()
		<-r.watchc
		err = r.f.Close()
	})
	return err
}
