package repository

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

var (
	_ Store           = (*Dir)(nil)
	_ pool.Repository = (*Dir)(nil)
)

// Dir is a [Store] on a local directory: blob d lives at
// <root>/blobs/sha256/<first 2 hex digits of d>/<hex of d>, read-only.
//
// A Dir is safe for concurrent use, and any number of processes may open
// Dirs on the same root at once, without locks. None are needed because no
// stored file is ever changed, only created whole: a writer streams into a
// temporary file of its own, and rename(2), which is atomic on a POSIX file
// system, puts the finished file in place. Two writers of the same digest
// wrote the same bytes, so whichever rename lands last, readers get the
// same content; a reader holding the file the other replaced keeps reading
// that one, which is identical. There is no read-modify-write anywhere for a
// lock to protect. (This holds on local file systems; network file systems
// differ in how atomic their rename is and in what a sync promises.)
//
// A Dir holds no open files; the zero Dir is not usable, call [Open].
type Dir struct {
	tree
}

// Open returns the store under root, creating the directories it needs
// (root included) if they are missing. It fails with ebb.ErrInvalid if
// root is empty.
func Open(root string) (*Dir, error) {
	t, err := openTree(root, "blobs", "")
	if err != nil {
		return nil, err
	}
	return &Dir{t}, nil
}

// Root returns the absolute path of the store's root directory.
func (d *Dir) Root() string { return d.root }

// check validates dg and ctx, in that order, for the start of every call.
func check(ctx context.Context, dg digest.Digest) error {
	if err := checkDigest("digest", dg); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("repository: %s: %w", dg, err)
	}
	return nil
}

// notExist maps a missing blob file to ebb.ErrNotExist and wraps any other
// error with the blob's digest.
func notExist(dg digest.Digest, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("repository: blob %s: %w", dg, ebb.ErrNotExist)
	}
	return fmt.Errorf("repository: blob %s: %w", dg, err)
}

// Get opens blob dg for reading; the caller closes the reader. The reader
// hashes what it reads and, if the content does not match dg, fails at the
// end with an error wrapping ebb.ErrCorrupt instead of io.EOF: a caller that
// reads to io.EOF has read exactly the blob. Reads fail with ctx's error
// once ctx is done. The reader is not safe for concurrent use.
//
// Get fails with ebb.ErrNotExist if the blob is missing and with
// ebb.ErrInvalid if dg is malformed or not sha256.
func (d *Dir) Get(ctx context.Context, dg digest.Digest) (io.ReadCloser, error) {
	if err := check(ctx, dg); err != nil {
		return nil, err
	}
	f, err := os.Open(d.path(dg))
	if err != nil {
		return nil, notExist(dg, err)
	}
	return newVerifyReader(ctx, f, dg), nil
}

// Stat returns blob dg's size without reading it: it does not verify the
// content. It fails with ebb.ErrNotExist if the blob is missing.
func (d *Dir) Stat(ctx context.Context, dg digest.Digest) (Info, error) {
	if err := check(ctx, dg); err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(d.path(dg))
	if err != nil {
		return Info{}, notExist(dg, err)
	}
	return Info{Digest: dg, Size: fi.Size()}, nil
}

// Put reads r to its end, stores what it read and returns its sha256
// digest. It does not close r. Putting content that is already stored
// returns the same digest and leaves the stored file as it is, unless that
// file has the wrong size (it was damaged), in which case Put replaces it.
//
// Put streams r into a temporary file while hashing it, checking ctx
// between chunks of 256 KiB; the file is synced and renamed into place
// only when r is exhausted and the digest known. If r fails or ctx is done
// first, Put removes the temporary file and returns the error (wrapping
// ctx.Err() for the latter).
func (d *Dir) Put(ctx context.Context, r io.Reader) (digest.Digest, error) {
	info, err := d.put(ctx, r)
	if err != nil {
		return "", fmt.Errorf("repository: put: %w", err)
	}
	return info.Digest, nil
}

// smallBlob is the size up to which put reads a blob whole before it
// writes anything, so that one already stored (as the same output of many
// tasks is) costs no temporary file: creating a file is among the dearest
// things a file system does (on ext4 without a journal, the dearer the
// more files were deleted lately).
const smallBlob = 64 << 10

// put is Put; its errors are for the caller to prefix.
func (d *Dir) put(ctx context.Context, r io.Reader) (Info, error) {
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	head := make([]byte, smallBlob+1)
	m, err := io.ReadFull(r, head)
	head = head[:m]
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		info := Info{Digest: digest.FromBytes(head), Size: int64(m)}
		if d.stored(info) {
			return info, nil
		}
		r = bytes.NewReader(nil)
	} else if err != nil {
		return Info{}, err
	}
	t, err := createTemp(d.tmp, "blob-*")
	if err != nil {
		return Info{}, err
	}
	defer t.discard()
	h := digest.SHA256.Digester()
	w := io.MultiWriter(t, h.Hash())
	if _, err := w.Write(head); err != nil {
		return Info{}, err
	}
	n, err := copyCtx(ctx, w, r)
	if err != nil {
		return Info{}, err
	}
	info := Info{Digest: h.Digest(), Size: int64(m) + n}
	if d.stored(info) {
		return info, nil
	}
	if err := t.commit(d.path(info.Digest), true); err != nil {
		return Info{}, fmt.Errorf("%s: %w", info.Digest, err)
	}
	return info, nil
}

// stored reports whether the blob info describes is stored: then Put
// keeps the stored file, so its inode (and any hard link to it) stays,
// and skips the sync. A stored file of another size is damaged, and Put
// replaces it. (Damage that keeps the size shows up when the blob is
// read.)
func (d *Dir) stored(info Info) bool {
	fi, err := os.Stat(d.path(info.Digest))
	return err == nil && fi.Size() == info.Size
}
