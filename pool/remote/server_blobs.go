package remote

import (
	"context"
	"fmt"
	"net/http"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository"
	"github.com/opencontainers/go-digest"
)

// stater is the part of a repository.Store that serves blob stats.
type stater interface {
	Stat(ctx context.Context, d digest.Digest) (repository.Info, error)
}

func (s *Server) repo() (pool.Repository, error) {
	if s.cfg.Repository == nil {
		return nil, fmt.Errorf("this server serves no repository: %w", ebb.ErrInvalid)
	}
	return s.cfg.Repository, nil
}

// blobDigest returns the digest named in the path, checked.
func blobDigest(r *http.Request) (digest.Digest, error) {
	d := digest.Digest(r.PathValue("digest"))
	if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
		return "", fmt.Errorf("blob digest %q: want sha256:<64 hex digits>: %w", d, ebb.ErrInvalid)
	}
	return d, nil
}

func (s *Server) putBlob(r *http.Request) (any, error) {
	repo, err := s.repo()
	if err != nil {
		return nil, err
	}
	d, err := repo.Put(r.Context(), r.Body)
	if err != nil {
		return nil, err
	}
	return blobWire{Digest: d}, nil
}

// getBlob streams a blob. The repository's reader checks the content
// against the digest at its end; a mismatch goes in the Ebb-Error
// trailer, and the client checks the digest too.
func (s *Server) getBlob(w http.ResponseWriter, r *http.Request) {
	repo, err := s.repo()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := blobDigest(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rc, err := repo.Get(r.Context(), d)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer rc.Close()
	s.stream(w, r, rc, false)
}

func (s *Server) statBlob(r *http.Request) (any, error) {
	repo, err := s.repo()
	if err != nil {
		return nil, err
	}
	d, err := blobDigest(r)
	if err != nil {
		return nil, err
	}
	st, ok := repo.(stater)
	if !ok {
		return nil, fmt.Errorf("stat blob %s: this server's repository has no Stat: %w", d, ebb.ErrInvalid)
	}
	return st.Stat(r.Context(), d)
}
