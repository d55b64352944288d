package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/ebbflow/ebb"
	"github.com/opencontainers/go-digest"
)

// holderBook is a repository that records which workers hold blobs it
// does not (repository.Located).
type holderBook interface {
	Hold(ctx context.Context, d digest.Digest, size int64, holder string) error
	Holders(d digest.Digest) ([]string, int64)
}

// holdersWire is the body of the holders endpoints.
type holdersWire struct {
	Size    int64    `json:"size"`
	Holder  string   `json:"holder,omitempty"`  // in: who holds it
	Holders []string `json:"holders,omitempty"` // out: who holds it, in order
}

func (s *Server) book() (holderBook, error) {
	repo, err := s.repo()
	if err != nil {
		return nil, err
	}
	b, ok := repo.(holderBook)
	if !ok {
		return nil, fmt.Errorf("this server's repository records no holders: %w", ebb.ErrInvalid)
	}
	return b, nil
}

// holdBlob records that the caller holds a blob: POST
// /v1/blobs/{digest}/holders {size, holder}.
func (s *Server) holdBlob(r *http.Request) (any, error) {
	b, err := s.book()
	if err != nil {
		return nil, err
	}
	d, err := blobDigest(r)
	if err != nil {
		return nil, err
	}
	var in holdersWire
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10)).Decode(&in); err != nil {
		return nil, fmt.Errorf("hold blob %s: body: %v: %w", d, err, ebb.ErrInvalid)
	}
	if _, _, err := splitHolder(in.Holder); err != nil {
		return nil, err
	}
	return nil, b.Hold(r.Context(), d, in.Size, in.Holder)
}

// blobHolders answers who holds a blob: GET /v1/blobs/{digest}/holders.
// A blob held by nobody has no holders, which is no error: the server
// may have it itself.
func (s *Server) blobHolders(r *http.Request) (any, error) {
	b, err := s.book()
	if err != nil {
		return nil, err
	}
	d, err := blobDigest(r)
	if err != nil {
		return nil, err
	}
	hs, size := b.Holders(d)
	return holdersWire{Size: size, Holders: hs}, nil
}
