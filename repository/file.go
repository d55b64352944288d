package repository

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/regfile"
	"github.com/opencontainers/go-digest"
)

// PutFile stores the content of the regular file at path and returns its
// digest, as Put would for the file's content; the file is not changed.
// It fails with an error wrapping ebb.ErrNotExist (and fs.ErrNotExist) if
// there is no file at path, and with ebb.ErrInvalid if it is not a regular
// file. If the file changes while it is read, what is stored is what was
// read, and its digest is returned.
func (d *Dir) PutFile(ctx context.Context, path string) (digest.Digest, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("repository: put file %s: %w", path, err)
	}
	// Never a blocking open: a FIFO would wait for a writer forever, and
	// a device such as /dev/zero never ends.
	f, err := regfile.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("repository: put file: %w: %w", err, ebb.ErrNotExist)
	} else if err != nil {
		return "", fmt.Errorf("repository: put file: %w", err)
	}
	defer f.Close()
	info, err := d.put(ctx, f)
	if err != nil {
		return "", fmt.Errorf("repository: put file %s: %w", path, err)
	}
	return info.Digest, nil
}

// GetFile writes blob dg to path, replacing any file there; path's
// directory must exist. The new file is read-only (mode 0444), appears
// whole or not at all, and only after its content was verified against dg:
// a damaged blob fails with ebb.ErrCorrupt and leaves path as it was.
// Nothing is synced: a staged file is for use now, not for keeping.
//
// When path is on the same file system as the store, GetFile hard-links
// the blob instead of copying it, which takes no space and, content
// verification aside, no time. It does so only when this process cannot
// open the linked file for writing, since a write through the link would
// change the stored blob; a process that can (root, or one with
// CAP_DAC_OVERRIDE) always gets a copy. A linked file is still the stored
// blob: a task that chmods it writable and writes it damages the blob,
// which later reads then report as ebb.ErrCorrupt. (The check is of this
// process's privileges, which the tasks it starts share.)
//
// GetFile fails with ebb.ErrNotExist if the blob is missing. It checks ctx
// between chunks of 256 KiB and, once ctx is done, removes what it wrote
// and returns an error wrapping ctx.Err().
func (d *Dir) GetFile(ctx context.Context, dg digest.Digest, path string) error {
	if err := check(ctx, dg); err != nil {
		return err
	}
	src := d.path(dg)
	if _, err := os.Stat(src); err != nil {
		return notExist(dg, err)
	}
	err := d.link(ctx, dg, src, path)
	if errors.Is(err, errNoLink) {
		err = d.copyTo(ctx, dg, path)
	}
	if err != nil {
		return fmt.Errorf("repository: get file %s: %w", path, err)
	}
	return nil
}

// errNoLink says that linking did not work or would not be safe, and that
// the blob should be copied instead.
var errNoLink = errors.New("cannot link")

// link hard-links src, blob dg, to path, or returns errNoLink.
func (d *Dir) link(ctx context.Context, dg digest.Digest, src, path string) error {
	tmp, err := linkTemp(src, path)
	if err != nil {
		// Another file system (EXDEV), a file system without hard links,
		// too many links, or protected_hardlinks refusing a blob that
		// another user stored: copying works in all of these.
		return errNoLink
	}
	// Opening for writing changes nothing until something is written.
	// Only a refusal on permission proves that nothing can be written;
	// another error (ETXTBSY while the blob runs as a program) may pass.
	if w, err := os.OpenFile(tmp, os.O_WRONLY, 0); !errors.Is(err, fs.ErrPermission) {
		if err == nil {
			w.Close()
		}
		os.Remove(tmp)
		return errNoLink
	}
	if err := verifyLink(ctx, tmp, src, dg); err != nil {
		os.Remove(tmp)
		return err
	}
	err = os.Rename(tmp, path)
	// Renaming a link over another link to the same file does nothing
	// and succeeds (POSIX says so), leaving tmp; and a failed rename
	// leaves it too.
	os.Remove(tmp)
	return err
}

// linkTemp hard-links src to a new, unused name in path's directory.
func linkTemp(src, path string) (string, error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	for range 10 {
		tmp := filepath.Join(dir, "."+base+".ebb-"+strconv.FormatUint(rand.Uint64(), 36))
		err := os.Link(src, tmp)
		if !errors.Is(err, fs.ErrExist) {
			return tmp, err
		}
	}
	return "", fs.ErrExist
}

// copyTo copies blob dg to path through a temporary file beside it,
// verifying the content as it goes.
func (d *Dir) copyTo(ctx context.Context, dg digest.Digest, path string) error {
	f, err := os.Open(d.path(dg))
	if err != nil {
		return err
	}
	defer f.Close()
	dir, base := filepath.Dir(path), filepath.Base(path)
	t, err := createTemp(dir, "."+base+".ebb-*")
	if err != nil {
		return err
	}
	defer t.discard()
	if _, err := newVerifyReader(ctx, f, dg).WriteTo(t); err != nil {
		return err
	}
	return t.commit(path, false)
}
