package local

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// A workDir is an exec's working directory, with what it was like when
// it was made: its mode and owners.
//
// Making a directory and removing it again costs a file system journal
// commit or two (some 200 µs on ext4, a tenth of a fork and exec), so an
// alloc keeps the work directories its execs leave as they found them and
// hands them to its later execs. One is handed on only once its exec has
// ended and every process of the exec's group has exited, and only when
// it is as it was made: empty, with the same mode and owners, without
// access control lists or other extended attributes (security labels
// aside). Any other goes, with what it holds.
type workDir struct {
	path     string
	mode     uint32 // the st_mode of the new directory
	uid, gid uint32
}

// takeWork returns an empty work directory for one of the alloc's execs:
// one that an earlier exec left as it was made, or a new one.
func (a *alloc) takeWork() (*workDir, error) {
	a.mu.Lock()
	if n := len(a.freeWork); n > 0 {
		w := a.freeWork[n-1]
		a.freeWork = a.freeWork[:n-1]
		a.mu.Unlock()
		return w, nil
	}
	a.workSeq++
	seq := a.workSeq
	a.mu.Unlock()
	path := filepath.Join(a.dir, workName, strconv.FormatUint(seq, 10))
	err := os.Mkdir(path, 0o755)
	if errors.Is(err, fs.ErrNotExist) {
		err = os.MkdirAll(path, 0o755) // the alloc's first
	}
	if err != nil {
		return nil, err
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	return &workDir{path: path, mode: st.Mode, uid: st.Uid, gid: st.Gid}, nil
}

// returnWork takes back the work directory of an exec that has ended and
// whose processes have all exited. A directory left as it was made goes to
// the alloc's next exec; any other is removed with what it holds.
func (a *alloc) returnWork(w *workDir) error {
	if pristine(w) {
		a.mu.Lock()
		if a.state.Load() == live {
			a.freeWork = append(a.freeWork, w)
		}
		a.mu.Unlock()
		return nil
	}
	return os.RemoveAll(w.path)
}

// pristine reports whether the directory at w.path is as it was made:
// still a directory, not a link to one, with its mode and owners, no
// entries and no extended attributes but security labels (which a system
// may set on every file).
func pristine(w *workDir) bool {
	fd, err := syscall.Open(w.path, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil || st.Mode != w.mode || st.Uid != w.uid || st.Gid != w.gid {
		return false
	}
	if !emptyDir(fd) {
		return false
	}
	var names [256]byte
	n, err := syscall.Listxattr(w.path, names[:])
	if err != nil {
		return errors.Is(err, syscall.ENOTSUP)
	}
	for name := range bytes.SplitSeq(names[:n], []byte{0}) {
		if len(name) > 0 && !bytes.HasPrefix(name, []byte("security.")) {
			return false
		}
	}
	return true
}

// emptyDir reports whether the directory open at fd has no entries but
// "." and "..".
func emptyDir(fd int) bool {
	var buf [512]byte
	for {
		n, err := syscall.Getdents(fd, buf[:])
		if err != nil {
			return false
		}
		if n == 0 {
			return true
		}
		if _, count, _ := syscall.ParseDirent(buf[:n], 1, nil); count > 0 {
			return false // ParseDirent skips "." and ".."
		}
	}
}
