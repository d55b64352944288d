package repository

import (
	"context"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/ebbflow/ebb"
	"github.com/opencontainers/go-digest"
)

// A verifyReader reads a blob file and hashes what it reads; at the end of
// the file it compares the hash with the blob's name and, on a mismatch,
// returns an error wrapping ebb.ErrCorrupt instead of io.EOF. Once it has
// failed it keeps failing. It is not safe for concurrent use.
type verifyReader struct {
	ctx  context.Context
	f    *os.File
	name string // the stored file's path, for messages
	want digest.Digest
	h    hash.Hash
	n    int64
	err  error // sticky: io.EOF after a verified end, or the failure
}

func newVerifyReader(ctx context.Context, f *os.File, want digest.Digest) *verifyReader {
	return &verifyReader{ctx: ctx, f: f, name: f.Name(), want: want, h: want.Algorithm().Hash()}
}

// Read reads from the blob. It fails with ctx's error once ctx is done.
func (r *verifyReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if err := r.ctx.Err(); err != nil {
		r.err = fmt.Errorf("read blob %s: %w", r.want, err)
		return 0, r.err
	}
	n, err := r.f.Read(p)
	r.h.Write(p[:n])
	r.n += int64(n)
	switch {
	case err == io.EOF:
		r.err = r.check()
		err = r.err
	case err != nil:
		r.err = fmt.Errorf("read blob %s: %w", r.want, err)
		err = r.err
	}
	return n, err
}

// check returns io.EOF if what was read matches the digest, and an error
// wrapping ebb.ErrCorrupt otherwise.
func (r *verifyReader) check() error {
	if got := digest.NewDigest(r.want.Algorithm(), r.h); got != r.want {
		return fmt.Errorf("blob %s (%s): content has digest %s (%d bytes): %w",
			r.want, r.name, got, r.n, ebb.ErrCorrupt)
	}
	return io.EOF
}

// WriteTo copies the rest of the blob to w in large chunks, checking the
// context between them, so that io.Copy does not fall back to small reads.
func (r *verifyReader) WriteTo(w io.Writer) (int64, error) {
	n, err := copyCtx(r.ctx, w, readerOnly{r})
	if err != nil && r.err == nil {
		// ctx was done between chunks, or w failed.
		err = fmt.Errorf("copy blob %s: %w", r.want, err)
	}
	return n, err
}

// Close closes the blob file.
func (r *verifyReader) Close() error { return r.f.Close() }

// readerOnly hides every method but Read, so that copyCtx cannot recurse
// into WriteTo.
type readerOnly struct{ io.Reader }

// verifyLink hashes the file at path, a hard link to the stored file
// stored, and returns an error wrapping ebb.ErrCorrupt unless it has
// digest want.
func verifyLink(ctx context.Context, path, stored string, want digest.Digest) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := newVerifyReader(ctx, f, want)
	r.name = stored
	_, err = r.WriteTo(io.Discard)
	return err
}
