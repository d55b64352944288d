package bootstrap

import (
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/ebbflow/ebb/internal/counting"
)

// A BlobCounter counts the blob content a Bootstrap's server of
// Config.Blobs moves: what it sends to workers (the blobs they get) and
// what it receives from them (the blobs they put). Requests that move
// no content (a blob's stat, its holders) count nothing. The zero
// BlobCounter is ready; it is safe for concurrent use.
type BlobCounter struct {
	sent, received atomic.Int64
}

// Sent returns the bytes of blob content sent to workers so far.
func (c *BlobCounter) Sent() int64 { return c.sent.Load() }

// Received returns the bytes of blob content received from workers so
// far.
func (c *BlobCounter) Received() int64 { return c.received.Load() }

// wrap returns w and r counting the content of a blob request: the body
// of a put (POST /v1/blobs), the answer of a get (GET /v1/blobs/{digest}).
func (c *BlobCounter) wrap(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *http.Request) {
	path := r.URL.Path
	switch {
	case r.Method == http.MethodPost && path == "/v1/blobs":
		r.Body = counting.ReadCloser{ReadCloser: r.Body, N: &c.received}
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/v1/blobs/") &&
		strings.Count(strings.TrimPrefix(path, "/v1/blobs/"), "/") == 0:
		w = counting.ResponseWriter{ResponseWriter: w, N: &c.sent}
	}
	return w, r
}
