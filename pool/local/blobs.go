package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

// blob returns the path of a read-only local copy of the blob d, under
// the alloc's directory, fetching it from the repository the first time
// one of the alloc's execs asks for it. Execs that want one blob at once
// share one fetch (a worker staging from its driver's repository then
// downloads each input once per alloc, however many tasks name it); the
// copy stays until the alloc ends.
//
// The fetch runs under the context of the exec that started it: every
// exec that shares it waits for it to end, even one killed meanwhile, so
// that no fetch outlives its exec and the alloc's end finds nothing still
// writing under its directory. That is the case this handles badly: an
// exec killed while waiting on another's large fetch stops only when the
// fetch does. When the fetch failed because its own exec was stopped,
// the others try again.
//
// It also returns where the content came from (pool.Transfer's Where):
// pool.WhereCache when the alloc had its copy already; an exec that
// shared another's fetch reports the fetch's.
func (a *alloc) blob(ctx context.Context, d digest.Digest) (string, string, error) {
	dir := filepath.Join(a.dir, blobsName)
	path := filepath.Join(dir, d.Algorithm().String()+"-"+d.Encoded())
	for {
		where, err, _ := a.fetches.Do(string(d), func() (any, error) {
			if _, err := os.Stat(path); err == nil {
				return pool.WhereCache, nil
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return "", err
			}
			return a.fetch(ctx, d, path)
		})
		switch {
		case ctx.Err() != nil:
			return "", "", ctx.Err()
		case err != nil && isContextErr(err):
			continue // the exec that fetched was stopped; this one was not
		case err != nil:
			return "", "", err
		}
		return path, where.(string), nil
	}
}

// A Sourcer is a repository that writes a blob to a file and says where
// the content came from (pool.Transfer's Where), as BlobCache does.
type Sourcer interface {
	GetFileFrom(ctx context.Context, d digest.Digest, path string) (string, error)
}

// fileGetter is a repository that writes a blob to a file itself, as
// repository.Dir (which hard-links it when it can) and remote.Repository
// do.
type fileGetter interface {
	GetFile(ctx context.Context, d digest.Digest, path string) error
}

// fetch writes the blob d to path, whole or not at all, and returns
// where it came from.
func (a *alloc) fetch(ctx context.Context, d digest.Digest, path string) (string, error) {
	switch g := a.p.cfg.Repository.(type) {
	case Sourcer:
		return g.GetFileFrom(ctx, d, path)
	case fileGetter:
		return putWhere(a.p.cfg.Repository), g.GetFile(ctx, d, path)
	}
	r, err := a.p.cfg.Repository.Get(ctx, d)
	if err != nil {
		return "", err
	}
	defer r.Close()
	if err := writeFile(filepath.Dir(path), path, r); err != nil {
		return "", fmt.Errorf("fetched blob: %w", err)
	}
	return putWhere(a.p.cfg.Repository), nil
}

// writeFile writes r to a temporary file in dir, read-only, and renames
// it to path; on failure it leaves nothing behind.
func writeFile(dir, path string, r io.Reader) (err error) {
	f, err := os.CreateTemp(dir, ".fetch-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := io.Copy(f, r); err != nil {
		return err
	}
	if err := f.Chmod(0o444); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
