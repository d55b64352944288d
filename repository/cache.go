package repository

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/atomicfile"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

// A Cache maps a task digest to the result of running the task, so that a
// resumed or repeated run skips the tasks it finds there.
//
// Implementations must be safe for concurrent use. Every method fails with
// an error wrapping ebb.ErrInvalid, naming the value, when key is malformed
// or not sha256, and with an error wrapping ctx.Err() when ctx is done
// before it starts. Package repositorytest checks all of this for any
// implementation, and has one in memory.
type Cache interface {
	// Get returns the result stored for key. It fails with
	// ebb.ErrNotExist when there is none and with ebb.ErrCorrupt when the
	// stored entry is damaged; it never returns another key's result or
	// part of one. The result is the caller's: nothing else refers to
	// it, so changing it changes nothing stored.
	Get(ctx context.Context, key digest.Digest) (pool.Result, error)

	// Put stores r as the result for key, replacing any result there.
	// It is atomic: a concurrent Get sees the old result or the new, and
	// of concurrent Puts of one key the last to finish wins. It fails
	// with ebb.ErrInvalid, and stores nothing, when [ValidateResult]
	// refuses r: r could not be read back as it is, or not trusted. Put
	// does not keep r: changing it afterwards changes nothing stored.
	Put(ctx context.Context, key digest.Digest, r pool.Result) error

	// Delete removes the result for key. Deleting a key that has no
	// result is not an error.
	Delete(ctx context.Context, key digest.Digest) error
}

var _ Cache = (*DirCache)(nil)

// DirCache is a [Cache] on a local directory: the result for key k lives in
// <root>/cache/sha256/<first 2 hex digits of k>/<hex of k>.json, as a
// versioned JSON envelope that names its key and the digest of its result:
//
//	{"version":1,"key":k,"result_digest":"sha256:…","result":{…}}
//
// so that a damaged entry, even one that still parses, or one in the wrong
// place reads as ebb.ErrCorrupt. An entry of a newer version than this
// package reads fails with ebb.ErrInvalid naming the version.
//
// A DirCache may share its root with a [Dir]: their trees are apart. Like
// a Dir it is safe for concurrent use by goroutines and by processes
// sharing the root, without locks: every Put writes a whole new file and
// renames it over the old one, atomically, so a reader opens one complete
// entry or the other, and the last rename wins.
//
// A DirCache holds no open files; the zero DirCache is not usable, call
// [OpenCache].
type DirCache struct {
	tree
}

// OpenCache returns the cache under root, creating the directories it
// needs (root included) if they are missing. It fails with ebb.ErrInvalid
// if root is empty.
func OpenCache(root string) (*DirCache, error) {
	t, err := openTree(root, "cache", ".json")
	if err != nil {
		return nil, err
	}
	return &DirCache{t}, nil
}

// Root returns the absolute path of the cache's root directory.
func (c *DirCache) Root() string { return c.root }

func checkKey(ctx context.Context, key digest.Digest) error {
	if err := checkDigest("cache key", key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("repository: cache %s: %w", key, err)
	}
	return nil
}

// Get returns the result stored for key; see [Cache]. The result is the
// caller's: nothing else refers to it.
func (c *DirCache) Get(ctx context.Context, key digest.Digest) (pool.Result, error) {
	if err := checkKey(ctx, key); err != nil {
		return pool.Result{}, err
	}
	path := c.path(key)
	b, err := readEntry(path)
	if errors.Is(err, fs.ErrNotExist) {
		return pool.Result{}, fmt.Errorf("repository: cache %s: %w", key, ebb.ErrNotExist)
	} else if err != nil {
		return pool.Result{}, fmt.Errorf("repository: cache %s: %w", key, err)
	}
	r, err := decodeEntry(key, b)
	if err != nil {
		return pool.Result{}, fmt.Errorf("repository: cache %s: entry %s: %w", key, path, err)
	}
	return r, nil
}

// readEntry reads the file at path, of at most maxEntrySize bytes.
func readEntry(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var b []byte
	if fi.Size() <= maxEntrySize {
		// The limit holds even if the file is replaced by a bigger one.
		b, err = io.ReadAll(io.LimitReader(f, maxEntrySize+1))
		if err != nil {
			return nil, err
		}
	}
	if fi.Size() > maxEntrySize || len(b) > maxEntrySize {
		return nil, fmt.Errorf("entry is larger than %d bytes: %w", maxEntrySize, ebb.ErrCorrupt)
	}
	return b, nil
}

// Put stores r as the result for key; see [Cache]. The entry is written to
// a temporary file, synced, and renamed into place, so once Put returns
// it survives a crash. Put does not keep r.
func (c *DirCache) Put(ctx context.Context, key digest.Digest, r pool.Result) error {
	if err := checkKey(ctx, key); err != nil {
		return err
	}
	_, err := c.put(key, r, true)
	return err
}

// put writes the entry for key and renames it into place, synced when
// sync is set, and returns its path. key has been checked.
func (c *DirCache) put(key digest.Digest, r pool.Result, sync bool) (string, error) {
	b, err := encodeEntry(key, r)
	if err != nil {
		return "", fmt.Errorf("repository: cache %s: %w", key, err)
	}
	t, err := createTemp(c.tmp, "entry-*")
	if err != nil {
		return "", fmt.Errorf("repository: cache %s: %w", key, err)
	}
	defer t.discard()
	if _, err := t.Write(b); err != nil {
		return "", fmt.Errorf("repository: cache %s: %w", key, err)
	}
	path := c.path(key)
	if err := t.commit(path, sync); err != nil {
		return "", fmt.Errorf("repository: cache %s: %w", key, err)
	}
	return path, nil
}

// Delete removes the result for key; see [Cache]. The removal is synced,
// so a deleted entry does not come back after a crash.
func (c *DirCache) Delete(ctx context.Context, key digest.Digest) error {
	if err := checkKey(ctx, key); err != nil {
		return err
	}
	path := c.path(key)
	if err := os.Remove(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("repository: cache %s: %w", key, err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("repository: cache %s: %w", key, err)
	}
	return nil
}
