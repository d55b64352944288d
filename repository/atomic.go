package repository

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Files are written atomically: created under a unique temporary name in
// <root>/tmp (on the same file system as their final place, so that the
// rename below is atomic), synced, made read-only, renamed into place, and
// then their directory is synced so that the rename itself survives a
// crash. Until the rename nobody else can see the file; after it, everyone
// sees all of it. The helpers here return the file system's errors as they
// are (they name the path); their callers add what was being done.

// storedMode is the mode of every stored file: nobody writes a file once it
// is in place, and a blob hard-linked into a work directory must not be
// writable through the link.
const storedMode = 0o444

// openTree makes the directories of one tree: base/<2 hex> for every byte,
// and root/tmp. Making all 256 fan-out directories up front, and syncing
// their parents once here, means a Put only ever syncs the directory it
// renames into, whichever process created it.
func openTree(root, base string) (tmp string, err error) {
	tmp = filepath.Join(root, "tmp")
	for _, dir := range []string{base, tmp} {
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return "", err
		}
	}
	for i := range 256 {
		sub := filepath.Join(base, fmt.Sprintf("%02x", i))
		if err := os.Mkdir(sub, 0o777); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
	// Sync from the leaves up to root, so that every directory made above
	// is durable before Open returns.
	dirs := []string{tmp}
	for dir := base; ; dir = filepath.Dir(dir) {
		dirs = append(dirs, dir)
		if dir == root || dir == filepath.Dir(dir) {
			break
		}
	}
	for _, dir := range dirs {
		if err := syncDir(dir); err != nil {
			return "", err
		}
	}
	return tmp, nil
}

// syncDir flushes dir's entries to stable storage.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// A tempFile is a file being written in a tmp directory. Exactly one of
// commit and discard ends its life; discard after commit does nothing, so
// callers defer discard.
type tempFile struct {
	*os.File
	done bool
}

func createTemp(dir, pattern string) (*tempFile, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return &tempFile{File: f}, nil
}

// discard closes and removes the file unless it was committed.
func (t *tempFile) discard() {
	if t.done {
		return
	}
	t.done = true
	t.Close()
	os.Remove(t.Name())
}

// commit makes the file read-only and, if sync is set, durable, then
// renames it to name, replacing any file there. With sync it also syncs
// name's directory, so the new name survives a crash. On failure the file
// is removed.
func (t *tempFile) commit(name string, sync bool) error {
	err := t.Chmod(storedMode)
	if err == nil && sync {
		err = t.Sync()
	}
	if err != nil {
		t.discard()
		return err
	}
	t.done = true
	if err := t.Close(); err != nil {
		os.Remove(t.Name())
		return err
	}
	if err := os.Rename(t.Name(), name); err != nil {
		os.Remove(t.Name())
		return err
	}
	if !sync {
		return nil
	}
	return syncDir(filepath.Dir(name))
}
