package repository

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ebbflow/ebb/internal/atomicfile"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

// A Blob is a stored blob as [Dir.Walk] found it.
type Blob struct {
	Digest digest.Digest
	Size   int64
	// ModTime is when the blob was stored. Putting stored content again
	// leaves the file, and so its ModTime, as it is.
	ModTime time.Time
}

// An Entry is a cache entry as [DirCache.Walk] found it.
type Entry struct {
	Key digest.Digest
	// Result is the entry's result; zero when Err is set.
	Result pool.Result
	// Err is set when the entry could not be read back: it is damaged
	// (ebb.ErrCorrupt) or of a version this package does not read.
	Err     error
	Size    int64
	ModTime time.Time
}

// walk calls fn for every file of t named for a sha256 digest, in the
// order of their names. Files being written (in tmp) and files of other
// names are not visited. A file removed while walk runs may or may not be
// visited. walk stops at the first error of fn, or when ctx is done.
func (t tree) walk(ctx context.Context, fn func(dg digest.Digest, path string, fi fs.FileInfo) error) error {
	subs, err := os.ReadDir(t.base)
	if err != nil {
		return err
	}
	for _, sub := range subs {
		if !sub.IsDir() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		dir := filepath.Join(t.base, sub.Name())
		files, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, f := range files {
			hex, ok := strings.CutSuffix(f.Name(), t.ext)
			dg := digest.NewDigestFromEncoded(digest.SHA256, hex)
			if !ok || !f.Type().IsRegular() || dg.Validate() != nil || !strings.HasPrefix(hex, sub.Name()) {
				continue
			}
			fi, err := f.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed since ReadDir
			} else if err != nil {
				return err
			}
			if err := fn(dg, filepath.Join(dir, f.Name()), fi); err != nil {
				return err
			}
		}
	}
	return nil
}

// Walk calls fn for every blob of d, in digest order, and stops at the
// first error fn returns, returning it. It does not read the blobs. Blobs
// put or removed while Walk runs may or may not be visited. Walk fails
// with an error wrapping ctx.Err() once ctx is done.
func (d *Dir) Walk(ctx context.Context, fn func(Blob) error) error {
	err := d.walk(ctx, func(dg digest.Digest, _ string, fi fs.FileInfo) error {
		return fn(Blob{Digest: dg, Size: fi.Size(), ModTime: fi.ModTime()})
	})
	if err != nil {
		return fmt.Errorf("repository: walk %s: %w", d.root, err)
	}
	return nil
}

// Remove removes blob dg. Removing a blob that is not there is not an
// error. The removal is synced, so the blob does not come back after a
// crash.
//
// Remove only unlinks the blob's file, so it is safe with readers: a
// reader that opened the blob before (a [Dir.Get] under way) keeps
// reading the whole, unchanged file, which the file system frees when the
// reader closes it, and a file linked from the blob by [Dir.GetFile]
// keeps its content. A Get after Remove fails with ebb.ErrNotExist. A Put
// of the same content racing with Remove may find the blob stored and
// return before Remove unlinks it; callers that remove blobs a running
// flow may still write must accept that (see [Plan]).
func (d *Dir) Remove(ctx context.Context, dg digest.Digest) error {
	if err := check(ctx, dg); err != nil {
		return err
	}
	path := d.path(dg)
	if err := os.Remove(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("repository: remove blob %s: %w", dg, err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("repository: remove blob %s: %w", dg, err)
	}
	return nil
}

// Walk calls fn for every entry of c, in key order, and stops at the
// first error fn returns, returning it. An entry that cannot be read back
// is visited with its Err set rather than failing the walk, so that it
// can be deleted. Entries put or deleted while Walk runs may or may not
// be visited. Walk fails with an error wrapping ctx.Err() once ctx is
// done.
func (c *DirCache) Walk(ctx context.Context, fn func(Entry) error) error {
	err := c.walk(ctx, func(key digest.Digest, path string, fi fs.FileInfo) error {
		e := Entry{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}
		b, err := readEntry(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted since the directory was read
		}
		if err == nil {
			e.Result, err = decodeEntry(key, b)
		}
		e.Err = err
		return fn(e)
	})
	if err != nil {
		return fmt.Errorf("repository: walk cache %s: %w", c.root, err)
	}
	return nil
}
