package repositorytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/repository"
	"github.com/opencontainers/go-digest"
)

// chunkSize is how much Put and the readers of a Store handle between two
// checks of the context.
const chunkSize = 64 << 10

// Store is a [repository.Store] in memory. It keeps the contract the way
// the directory store does: blobs are verified as they are read, a
// failed call stores nothing, and every call checks its context (Put and
// readers every 64 KiB). The zero Store is empty and ready to use; it is
// safe for concurrent use and must not be copied after first use.
type Store struct {
	mu    sync.Mutex
	blobs map[digest.Digest][]byte // guarded by mu; a stored slice is never written
}

var _ repository.Store = (*Store)(nil)

// NewStore returns an empty Store.
func NewStore() *Store { return new(Store) }

// checkDigest returns an error wrapping ebb.ErrInvalid that names d
// unless d is a well-formed sha256 digest, then one wrapping ctx.Err()
// if ctx is done.
func checkDigest(ctx context.Context, op string, d digest.Digest) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("repositorytest: %s: digest %q: %v: %w", op, d, err, ebb.ErrInvalid)
	}
	if d.Algorithm() != digest.SHA256 {
		return fmt.Errorf("repositorytest: %s: digest %q: want sha256: %w", op, d, ebb.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("repositorytest: %s %s: %w", op, d, err)
	}
	return nil
}

// blob returns the bytes stored for d, or an error wrapping
// ebb.ErrNotExist.
func (s *Store) blob(op string, d digest.Digest) ([]byte, error) {
	s.mu.Lock()
	b, ok := s.blobs[d]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("repositorytest: %s %s: %w", op, d, ebb.ErrNotExist)
	}
	return b, nil
}

// Get opens blob d; see [repository.Store]. The reader verifies the
// content against d and fails at its end with ebb.ErrCorrupt on a
// mismatch; its reads fail with ctx's error once ctx is done.
func (s *Store) Get(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
	if err := checkDigest(ctx, "get", d); err != nil {
		return nil, err
	}
	b, err := s.blob("get", d)
	if err != nil {
		return nil, err
	}
	return &reader{ctx: ctx, r: bytes.NewReader(b), want: d, h: digest.SHA256.Hash()}, nil
}

// Stat returns blob d's digest and size; see [repository.Store].
func (s *Store) Stat(ctx context.Context, d digest.Digest) (repository.Info, error) {
	if err := checkDigest(ctx, "stat", d); err != nil {
		return repository.Info{}, err
	}
	b, err := s.blob("stat", d)
	if err != nil {
		return repository.Info{}, err
	}
	return repository.Info{Digest: d, Size: int64(len(b))}, nil
}

// Put reads r to its end and stores what it read; see [repository.Store].
// It does not close r. Content already stored is left as it is.
func (s *Store) Put(ctx context.Context, r io.Reader) (digest.Digest, error) {
	var buf bytes.Buffer
	chunk := make([]byte, chunkSize)
	for {
		if err := ctx.Err(); err != nil {
			return "", fmt.Errorf("repositorytest: put: %w", err)
		}
		n, err := r.Read(chunk)
		buf.Write(chunk[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("repositorytest: put: %w", err)
		}
	}
	b := buf.Bytes()
	d := digest.FromBytes(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.blobs[d]; !ok || !bytes.Equal(cur, b) {
		// A damaged blob is repaired by putting its content again.
		if s.blobs == nil {
			s.blobs = make(map[digest.Digest][]byte)
		}
		s.blobs[d] = b
	}
	return d, nil
}

// PutFile stores the content of the regular file at path; see
// [repository.Store]. It fails with an error wrapping ebb.ErrNotExist
// (and fs.ErrNotExist) when there is no file at path, and with
// ebb.ErrInvalid when it is not a regular file.
func (s *Store) PutFile(ctx context.Context, path string) (digest.Digest, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("repositorytest: put file %s: %w", path, err)
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("repositorytest: put file: %w: %w", err, ebb.ErrNotExist)
	} else if err != nil {
		return "", fmt.Errorf("repositorytest: put file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("repositorytest: put file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("repositorytest: put file %s: mode %s is not a regular file: %w", path, fi.Mode(), ebb.ErrInvalid)
	}
	return s.Put(ctx, f)
}

// GetFile writes blob d to a new read-only file at path; see
// [repository.Store]. The content is verified before anything is
// written, then written under a temporary name beside path and renamed
// into place. The file is always a copy.
func (s *Store) GetFile(ctx context.Context, d digest.Digest, path string) error {
	if err := checkDigest(ctx, "get file", d); err != nil {
		return err
	}
	b, err := s.blob("get file", d)
	if err != nil {
		return err
	}
	if got := digest.FromBytes(b); got != d {
		return fmt.Errorf("repositorytest: get file %s: content has digest %s: %w", d, got, ebb.ErrCorrupt)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".repositorytest-*")
	if err != nil {
		return fmt.Errorf("repositorytest: get file %s: %w", d, err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(0o444)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("repositorytest: get file %s: %w", d, err)
	}
	return nil
}

// Damage replaces what s holds for blob d with content, as a failing disk
// would, so that a test can check that what reads the blob notices: Get's
// reader then fails with ebb.ErrCorrupt at its end, and GetFile fails
// with it. Putting the blob's content again repairs it. Damage of a blob
// that is not stored stores content under d.
func (s *Store) Damage(d digest.Digest, content []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blobs == nil {
		s.blobs = make(map[digest.Digest][]byte)
	}
	s.blobs[d] = bytes.Clone(content)
}

// A reader reads a stored blob, verifying it against its digest at the
// end. It is not safe for concurrent use.
type reader struct {
	ctx  context.Context
	r    *bytes.Reader
	want digest.Digest
	h    hash.Hash
	err  error // sticky: io.EOF after a verified end, or the failure
}

func (r *reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if err := r.ctx.Err(); err != nil {
		r.err = fmt.Errorf("repositorytest: read blob %s: %w", r.want, err)
		return 0, r.err
	}
	n, err := r.r.Read(p[:min(len(p), chunkSize)])
	r.h.Write(p[:n])
	if err == io.EOF {
		if got := digest.NewDigest(digest.SHA256, r.h); got != r.want {
			err = fmt.Errorf("repositorytest: read blob %s: content has digest %s: %w", r.want, got, ebb.ErrCorrupt)
		}
		r.err = err
	}
	return n, err
}

func (r *reader) Close() error { return nil }
