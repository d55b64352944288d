package remote

import (
	"encoding/json"
	"errors"
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
	// headerWait, set to waitParked on the answer of a batch wait, says
	// that none of the execs was done: the server sent its headers at
	// once and waits, and the body comes when one is done.
	headerWait = "Ebb-Wait"
	waitParked = "parked"
)

// extBatch names the batch extension in the pool info (poolWire): the
// server serves the execs:batch and execs:wait endpoints.
const extBatch = "batch"

// maxBatch bounds the items of one batch request on the server;
// maxClientBatch bounds the ops of a batch the client sends, and
// maxBatchBody the size of its body (half what a server reads);
// maxWaitIDs bounds the IDs of a batch wait the client sends, so that
// its URL stays within 8 KiB.
const (
	maxBatch       = 1024
	maxClientBatch = 256
	maxBatchBody   = maxJSON / 2
	maxWaitIDs     = 100
)

// maxJSON bounds a JSON request or response body.
const maxJSON = 8 << 20

// poolWire is the answer of GET /v1/pool.
type poolWire struct {
	ID       string          `json:"id"`
	Capacity []ebb.Resources `json:"capacity"`
	// Extensions name the protocol extensions the server serves, as in
	// ["batch"]; a server that predates them sends none.
	Extensions []string `json:"extensions,omitempty"`
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

// The ops of a batch, as opWire.Op names them.
const (
	opPut    = "put"
	opWait   = "wait"
	opRemove = "remove"
)

// opWire is one call of a batch: a put (with its Config), a wait that
// does not wait (it answers whether the exec is done), or a remove.
type opWire struct {
	Op     string           `json:"op"`
	ID     pool.ExecID      `json:"id"`
	Config *pool.ExecConfig `json:"config,omitempty"`
}

// opsWire is the body of a batch.
type opsWire struct {
	Ops []opWire `json:"ops"`
}

// itemWire is how one call of a batch went: an error (Status and Error,
// as a call of its own would have answered), or else what the call
// answers: the exec's state for a put, its result for a wait (none
// while the exec runs), nothing for a remove.
type itemWire struct {
	ID      pool.ExecID       `json:"id,omitempty"`
	Inspect *pool.ExecInspect `json:"inspect,omitempty"`
	Result  *pool.Result      `json:"result,omitempty"`
	Status  int               `json:"status,omitempty"`
	Error   *wireError        `json:"error,omitempty"`
}

// batchWire is the answer of a batch, one item per op in the order
// asked, and of a batch wait, one item per exec done, with its ID.
type batchWire struct {
	Items []itemWire `json:"items"`
}

// errItem returns the item that carries err.
func errItem(id pool.ExecID, err error) itemWire {
	status, w := encodeError(err)
	return itemWire{ID: id, Status: status, Error: &w}
}

// blobWire is the answer of a blob put.
type blobWire struct {
	Digest digest.Digest `json:"digest"`
}

func allocPath(id string) string { return prefix + "/allocs/" + url.PathEscape(id) }

func execPath(alloc string, id pool.ExecID) string {
	return allocPath(alloc) + "/execs/" + url.PathEscape(string(id))
}

// batchPath returns the path of a batch endpoint of the alloc: verb is
// batch or wait.
func batchPath(alloc, verb string) string { return allocPath(alloc) + "/execs:" + verb }

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
// that is not such JSON is ebb.ErrInvalid; one that goes on past maxJSON
// says so (a plain io.LimitReader would make it read as cut short).
func readJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(&capReader{r: r, left: maxJSON})
	err := dec.Decode(v)
	switch {
	case errors.Is(err, errOverCap):
		return fmt.Errorf("body over %d MiB: %w", maxJSON>>20, ebb.ErrInvalid)
	case err != nil:
		return fmt.Errorf("malformed JSON body: %v: %w", err, ebb.ErrInvalid)
	}
	return nil
}

// errOverCap is what a capReader reads once its cap is used up.
var errOverCap = errors.New("over the cap")

// capReader reads r up to left bytes, then fails with errOverCap.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errOverCap
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
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
