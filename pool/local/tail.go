package local

import (
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// A tail keeps the last bytes written to one stream of an exec: at
// least the last max bytes, and never more than 2×max, so that a stream of
// any length costs bounded memory and each write is amortized O(its
// length). Followers read from it by offset in the whole stream.
//
// The zero value, with max set, is ready to use; nothing is allocated
// until the first write. A tail is safe for concurrent use: mu guards
// every field; total is written under mu and read under it, but for
// the test of whether it is 0: a stream never written to (most of a
// small func's) is read without the lock.
type tail struct {
	mu    sync.Mutex
	max   int
	buf   []byte        // the last len(buf) bytes written
	total atomic.Int64  // bytes written in all
	waitc chan struct{} // made by a waiting reader, closed by the next write
}

// Write keeps the tail of p. It never fails.
func (t *tail) Write(p []byte) (int, error) {
	n := len(p)
	if n == 0 {
		return 0, nil
	}
	t.mu.Lock()
	t.total.Add(int64(n))
	switch {
	case n >= t.max:
		t.buf = append(t.buf[:0], p[n-t.max:]...)
	case len(t.buf)+n > 2*t.max:
		keep := t.max - n
		copy(t.buf, t.buf[len(t.buf)-keep:])
		t.buf = append(t.buf[:keep], p...)
	default:
		t.buf = append(t.buf, p...)
	}
	if t.waitc != nil {
		close(t.waitc)
		t.waitc = nil
	}
	t.mu.Unlock()
	return n, nil
}

// written reports whether anything was ever written.
func (t *tail) written() bool { return t.total.Load() > 0 }

// String returns the last max bytes written.
func (t *tail) String() string {
	if !t.written() {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf[max(0, len(t.buf)-t.max):])
}

// window returns a copy of every byte the tail still holds.
func (t *tail) window() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.buf...)
}

// readAt copies into p the bytes from offset off of the stream on, and
// returns how many and the offset after them. Bytes before off that the
// tail no longer holds are skipped: a slow follower loses the middle of a
// fast stream, never its end. When there is nothing past off yet, readAt
// returns 0 and a channel that the next write closes.
func (t *tail) readAt(off int64, p []byte) (int, int64, <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	total := t.total.Load()
	first := total - int64(len(t.buf))
	off = max(off, first)
	if off < total {
		n := copy(p, t.buf[off-first:])
		return n, off + int64(n), nil
	}
	if t.waitc == nil {
		t.waitc = make(chan struct{})
	}
	return 0, off, t.waitc
}

// fileTail returns the last n bytes of the file at path, or "" when it
// cannot be read.
func fileTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(0, fi.Size()-int64(n))
	buf := make([]byte, fi.Size()-off)
	k, err := f.ReadAt(buf, off)
	if err != nil && err != io.EOF {
		return ""
	}
	return string(buf[:k])
}
