package remote

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

// The protocol's version prefix: every path starts with it.
const prefix = "/v1"

// Headers and trailers of the protocol.
const (
	// headerIdempotency carries the key that makes an Accept idempotent.
	headerIdempotency = "Idempotency-Key"
	// trailerError carries the wireError of a stream that failed after
	// its response began.
	trailerError = "Ebb-Error"
)

// maxJSON bounds a JSON request or response body.
const maxJSON = 8 << 20

// poolWire is the answer of GET /v1/pool.
type poolWire struct {
	ID       string          `json:"id"`
	Capacity []ebb.Resources `json:"capacity"`
}

// offerWire is one offer of GET /v1/offers.
type offerWire struct {
	ID        string        `json:"id"`
	Available ebb.Resources `json:"available"`
}

// allocWire names an alloc: the answer of Accept, and the items of
// GET /v1/allocs.
type allocWire struct {
	ID        string        `json:"id"`
	Resources ebb.Resources `json:"resources"`
}

// leaseWire is the body of a keepalive and of its answer, in nanoseconds.
type leaseWire struct {
	LeaseNS int64 `json:"lease_ns"`
}

// waitWire is the answer of a wait long poll: Done with the Result, or not
// yet done when the poll's bound passed.
type waitWire struct {
	Done   bool         `json:"done"`
	Result *pool.Result `json:"result,omitempty"`
}

// blobWire is the answer of a blob put.
type blobWire struct {
	Digest digest.Digest `json:"digest"`
}

func allocPath(id string) string { return prefix + "/allocs/" + url.PathEscape(id) }

func execPath(alloc string, id pool.ExecID) string {
	return allocPath(alloc) + "/execs/" + url.PathEscape(string(id))
}

func offerPath(id string) string { return prefix + "/offers/" + url.PathEscape(id) + "/accept" }

func blobPath(d digest.Digest) string { return prefix + "/blobs/" + url.PathEscape(string(d)) }

// writeJSON writes v as the response, with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"encoding the response failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// readJSON decodes a JSON body of at most maxJSON bytes into v. A body
// that is not such JSON is ebb.ErrInvalid.
func readJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(io.LimitReader(r, maxJSON))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed JSON body: %v: %w", err, ebb.ErrInvalid)
	}
	return nil
}

// mustJSON encodes v, which is a value of this package's that always
// encodes.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("remote: encoding %T: %v", v, err))
	}
	return b
}
