package repository

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/atomicfile"
	"github.com/opencontainers/go-digest"
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

// A tree is a fan-out directory of files named by digest, base/<2 hex>/
// <hex><ext>, and the tmp directory beside it where they are written.
type tree struct {
	root string // absolute
	base string // <root>/<kind>/sha256
	tmp  string // <root>/tmp
	ext  string // appended to every file name
}

// openTree returns the tree of the given kind under root, making its
// directories: base/<2 hex> for every byte, and root/tmp. Making all 256
// fan-out directories up front, and syncing their parents once here, means
// a write only ever syncs the directory it renames into, whichever process
// created it. It fails with ebb.ErrInvalid if root is empty.
func openTree(root, kind, ext string) (tree, error) {
	if root == "" {
		return tree{}, fmt.Errorf("repository: empty root directory: %w", ebb.ErrInvalid)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return tree{}, fmt.Errorf("repository: root %q: %w", root, err)
	}
	t := tree{root: abs, base: filepath.Join(abs, kind, "sha256"), tmp: filepath.Join(abs, "tmp"), ext: ext}
	if err := t.make(); err != nil {
		return tree{}, fmt.Errorf("repository: open %s: %w", abs, err)
	}
	return t, nil
}

func (t tree) make() error {
	for _, dir := range []string{t.base, t.tmp} {
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return err
		}
	}
	for i := range 256 {
		sub := filepath.Join(t.base, fmt.Sprintf("%02x", i))
		if err := os.Mkdir(sub, 0o777); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	// Sync from the leaves up to root, so that every directory made above
	// is durable before Open returns.
	dirs := []string{t.tmp}
	for dir := t.base; ; dir = filepath.Dir(dir) {
		dirs = append(dirs, dir)
		if dir == t.root || dir == filepath.Dir(dir) {
			break
		}
	}
	for _, dir := range dirs {
		if err := atomicfile.SyncDir(dir); err != nil {
			return err
		}
	}
	return nil
}

// path returns where the file for d lives; d must have passed checkDigest.
func (t tree) path(d digest.Digest) string {
	hex := d.Encoded()
	return filepath.Join(t.base, hex[:2], hex+t.ext)
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
	return atomicfile.SyncDir(filepath.Dir(name))
}
