package remote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/ebbflow/ebb"
)

// ErrAuth reports that credentials were refused: the server refused the
// client's token or certificate, or the client refused the server's
// certificate (a pin that does not match). It wraps ebb.ErrInvalid: the
// same configuration fails the same way, so it is never retried.
var ErrAuth = fmt.Errorf("remote: authentication failed: %w", ebb.ErrInvalid)

// kindUnauthenticated is the wire name of ErrAuth.
const kindUnauthenticated = "unauthenticated"

// wireKind is one ebb error kind as the protocol carries it: its name in
// the JSON error and the HTTP status it gives a response. The first kind
// an error wraps, in this order, picks the status.
type wireKind struct {
	err    error
	name   string
	status int
}

func wireKinds() []wireKind {
	return []wireKind{
		{ebb.ErrInvalid, "invalid", http.StatusBadRequest},
		{ebb.ErrResources, "resources", http.StatusUnprocessableEntity},
		{ebb.ErrOfferGone, "offer-gone", http.StatusConflict},
		{ebb.ErrNotExist, "not-exist", http.StatusNotFound},
		{ebb.ErrExpired, "expired", http.StatusGone},
		{ebb.ErrClosed, "closed", http.StatusGone},
		{ebb.ErrCorrupt, "corrupt", http.StatusInternalServerError},
		{ebb.ErrUnavailable, "unavailable", http.StatusServiceUnavailable},
	}
}

// wireError is the body of every error response, and the value of the
// Ebb-Error trailer of a stream that failed after it began.
type wireError struct {
	// Kinds name the ebb error kinds the error wraps, as in
	// ["expired", "closed"].
	Kinds []string `json:"kinds,omitempty"`
	// Message is the error's text on the server.
	Message string `json:"message"`
}

// encodeError returns the status and body that carry err. A context error
// (the server gave up on a call) travels as unavailable.
func encodeError(err error) (int, wireError) {
	w := wireError{Message: err.Error()}
	status := 0
	for _, k := range wireKinds() {
		if errors.Is(err, k.err) {
			w.Kinds = append(w.Kinds, k.name)
			if status == 0 {
				status = k.status
			}
		}
	}
	if status == 0 && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		w.Kinds = []string{"unavailable"}
		status = http.StatusServiceUnavailable
	}
	if status == 0 {
		status = http.StatusInternalServerError
	}
	return status, w
}

// callError is what a client call fails with: the operation, and either
// what the server answered or the transport error. It wraps the ebb kinds
// the server named, or the kind the client gave a transport failure, so
// errors.Is works on the client as it did on the server.
type callError struct {
	op     string
	status int     // 0 when no response came
	kinds  []error // ebb kinds, ErrAuth among them
	msg    string
	cause  error // the transport's error, if any
	retry  bool  // the call may be made again as it is
}

func (e *callError) Error() string {
	var b strings.Builder
	b.WriteString("remote: ")
	b.WriteString(e.op)
	b.WriteString(": ")
	b.WriteString(e.msg)
	return b.String()
}

func (e *callError) Unwrap() []error {
	out := append([]error(nil), e.kinds...)
	if e.cause != nil {
		out = append(out, e.cause)
	}
	return out
}

// decodeError turns an error response into a callError. Kinds the client
// does not know are dropped. A response without kinds (from a proxy, or
// a server that does not speak the protocol) is read by its status alone:
// 502, 503 and 504 are transient, 401 and 403 are ErrAuth, any other is
// ebb.ErrInvalid.
func decodeError(op string, status int, w wireError) *callError {
	e := &callError{op: op, status: status, msg: w.Message}
	if e.msg == "" {
		e.msg = http.StatusText(status)
	}
	for _, name := range w.Kinds {
		if name == kindUnauthenticated {
			e.kinds = append(e.kinds, ErrAuth)
			continue
		}
		for _, k := range wireKinds() {
			if k.name == name {
				e.kinds = append(e.kinds, k.err)
			}
		}
	}
	if len(e.kinds) > 0 {
		return e
	}
	switch status {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		e.kinds, e.retry = []error{ebb.ErrUnavailable}, true
	case http.StatusUnauthorized, http.StatusForbidden:
		e.kinds = []error{ErrAuth}
	case http.StatusInternalServerError:
		// An error of no ebb kind: neither retried nor classified.
	default:
		e.kinds = []error{ebb.ErrInvalid}
		e.msg = fmt.Sprintf("unexpected response %d %q: is this an ebb pool server?", status, e.msg)
	}
	return e
}
