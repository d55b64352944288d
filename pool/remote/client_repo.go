package remote

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/regfile"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository"
	"github.com/opencontainers/go-digest"
)

// Repository is the blob store of a remote Server: a repository.Store
// whose every method is a call of the protocol. A driver puts a task's
// inputs into its worker's repository and gets the outputs back by
// digest; a worker may also stage from a driver's.
//
// A Repository is safe for concurrent use. Get one from Client.Repository,
// or from NewRepository for a server that serves no pool.
type Repository struct {
	c *Client
}

var _ repository.Store = (*Repository)(nil)

// Repository returns the server's blob store, over c's connections.
func (c *Client) Repository() *Repository { return &Repository{c: c} }

// NewRepository returns the blob store of the server at cfg.URL, without
// calling it. It fails with ebb.ErrInvalid when cfg is malformed.
func NewRepository(cfg ClientConfig) (*Repository, error) {
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	return &Repository{c: c}, nil
}

// Close closes the idle connections of a Repository made by
// NewRepository; see Client.Close.
func (r *Repository) Close() error { return r.c.Close() }

func checkDigest(op string, d digest.Digest) error {
	if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
		return fmt.Errorf("remote: %s: digest %q: want sha256:<64 hex digits>: %w", op, d, ebb.ErrInvalid)
	}
	return nil
}

// Get opens the blob d on the server. The reader checks the content
// against d as it goes, and fails at its end with ebb.ErrCorrupt if they
// differ. The caller closes it.
func (r *Repository) Get(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
	op := "get blob " + string(d)
	if err := checkDigest(op, d); err != nil {
		return nil, err
	}
	req := &request{op: op, method: "GET", path: blobPath(d), stream: true}
	if err := r.c.do(ctx, req); err != nil {
		return nil, err
	}
	body := &streamReader{op: op, resp: req.resp, cancel: req.cancel}
	return &verifier{rc: body, want: d, h: digest.SHA256.Hash()}, nil
}

// A verifier hashes what it reads and checks it at the end.
type verifier struct {
	rc   io.ReadCloser
	want digest.Digest
	h    hash.Hash
	err  error
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		if got := digest.NewDigest(digest.SHA256, v.h); got != v.want {
			err = fmt.Errorf("remote: get blob %s: content has digest %s: %w", v.want, got, ebb.ErrCorrupt)
		}
	}
	if err != nil {
		v.err = err
	}
	return n, err
}

func (v *verifier) Close() error { return v.rc.Close() }

// Put stores the content of rd on the server and returns its digest. A
// Put that failed in a transient way is retried only when rd is an
// io.Seeker (a file, a bytes.Reader), from where it was.
func (r *Repository) Put(ctx context.Context, rd io.Reader) (digest.Digest, error) {
	var w blobWire
	if err := r.c.do(ctx, &request{op: "put blob", method: "POST", path: prefix + "/blobs", body: rd, out: &w}); err != nil {
		return "", err
	}
	if err := checkDigest("put blob", w.Digest); err != nil {
		return "", err
	}
	return w.Digest, nil
}

// Stat returns the digest and size of a blob on the server.
func (r *Repository) Stat(ctx context.Context, d digest.Digest) (repository.Info, error) {
	op := "stat blob " + string(d)
	if err := checkDigest(op, d); err != nil {
		return repository.Info{}, err
	}
	var info repository.Info
	err := r.c.do(ctx, &request{op: op, method: "GET", path: blobPath(d) + "/stat", out: &info})
	return info, err
}

// PutFile stores the content of the regular file at path on the server. A
// path that is not a regular file (a FIFO, a device) fails with
// ebb.ErrInvalid, without blocking; a missing one with ebb.ErrNotExist.
func (r *Repository) PutFile(ctx context.Context, path string) (digest.Digest, error) {
	d, err := regfile.Put(ctx, path, r.Put)
	if err != nil {
		return "", fmt.Errorf("remote: %w", err)
	}
	return d, nil
}

// GetFile writes the blob d to a new read-only file at path, replacing any
// file there. The content is written under a temporary name in path's
// directory, checked against d, and renamed into place: the file appears
// whole and verified, or not at all.
func (r *Repository) GetFile(ctx context.Context, d digest.Digest, path string) (err error) {
	rc, err := r.Get(ctx, d)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.CreateTemp(filepath.Dir(path), ".ebb-blob-*")
	if err != nil {
		return fmt.Errorf("remote: get blob %s to a file: %w", d, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := io.Copy(f, rc); err != nil {
		return err
	}
	if err := f.Chmod(0o444); err != nil {
		return fmt.Errorf("remote: get blob %s to a file: %w", d, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("remote: get blob %s to a file: %w", d, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("remote: get blob %s to a file: %w", d, err)
	}
	return nil
}

// PutWhere says where the blobs put into r go, as a pool staging into it
// reports them: the driver's repository, over the network (local.Placer).
func (r *Repository) PutWhere() string { return pool.WhereDriver }
