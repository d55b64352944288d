package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"time"

	"github.com/ebbflow/ebb"
)

// scope says what a server that is gone for good means to a call.
type scope int

const (
	scopePool  scope = iota // the pool is closed: ebb.ErrClosed
	scopeAlloc              // the alloc is lost: ebb.ErrExpired
)

// A request is one call of the protocol, retried as a whole.
type request struct {
	op     string // for messages: "keepalive alloc a-1"
	method string
	path   string // escaped, from the base URL
	query  url.Values
	header http.Header
	in     any       // a JSON body, or nil
	inJSON []byte    // a JSON body already encoded, or nil
	body   io.Reader // a raw body, or nil; retried only if it is an io.Seeker
	out    any       // where the JSON answer goes; nil discards it
	poll   time.Duration
	scope  scope
	// stream leaves the answer's body open in resp, for the caller to
	// read and close; cancel ends it. Only headers are bounded by
	// Timeout.
	stream bool
	resp   *http.Response
	cancel context.CancelFunc
	// answered, when not nil, is called with the headers of every
	// answer as they come, before its body is read.
	answered func(http.Header)

	tries int // attempts made so far
	// sent is closed once the transport is done with the raw body of
	// the last attempt; nil before the first.
	sent <-chan struct{}
}

// do makes the call: it sends the request, retries it while it fails in
// a transient way (see transient) within Timeout, or RetryFor when that
// is longer (the retry window), and decodes the answer
// into req.out. The time a long poll's attempts spent polling, up to
// req.poll each, does not count against Timeout: a poll cut short after a
// while is retried for Timeout, as a call cut short at once would be.
//
// Every call of the protocol is safe to retry: reads, Keepalive, Kill and
// Put by their nature, Accept by its idempotency key, Free and Remove
// because their callers treat an answer of "gone" to a retry as success
// (see retried). A raw body is sent again only if it is an io.Seeker.
func (c *Client) do(ctx context.Context, req *request) error {
	start := time.Now()
	window := max(c.cfg.Timeout, c.cfg.RetryFor)
	var polled time.Duration
	seek, rewind := req.body.(io.Seeker)
	var offset int64
	if rewind {
		var err error
		if offset, err = seek.Seek(0, io.SeekCurrent); err != nil {
			rewind = false
		}
	}
	for {
		if c.gone() {
			return c.goneErr(req)
		}
		if req.tries > 0 && rewind {
			// The transport may still read the last attempt's body
			// after that attempt failed (http.RoundTripper's contract):
			// the body is rewound once it has let go of it, or its
			// reads would take from the next attempt's.
			select {
			case <-req.sent:
			case <-ctx.Done():
				return fmt.Errorf("remote: %s: %w", req.op, ctx.Err())
			}
			if _, err := seek.Seek(offset, io.SeekStart); err != nil {
				return fmt.Errorf("remote: %s: rewinding the body: %v: %w", req.op, err, ebb.ErrUnavailable)
			}
		}
		req.tries++
		began := time.Now()
		err := c.attempt(ctx, req)
		polled += min(time.Since(began), req.poll)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("remote: %s: %w", req.op, ctx.Err())
		}
		wait := c.retry.Wait(req.tries - 1)
		switch {
		case !transient(err):
			return err
		case c.refusedIsGone && errors.Is(err, syscall.ECONNREFUSED):
			return err
		case req.body != nil && !rewind:
			return err // the body is spent
		case time.Since(start)+wait >= window+polled:
			return err
		}
		if err := c.sleep(ctx, wait); err != nil {
			if c.gone() {
				return c.goneErr(req)
			}
			return fmt.Errorf("remote: %s: %w", req.op, err)
		}
	}
}

// retried reports whether req was attempted more than once: an answer of
// "gone" may then come from an earlier attempt having done the job.
func (r *request) retried() bool { return r.tries > 1 }

// sleep waits d, or until ctx is done or the server is gone.
func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.cfg.Gone:
		return ebb.ErrClosed
	}
}

func (c *Client) goneErr(req *request) error {
	kind := ebb.ErrClosed
	if req.scope == scopeAlloc {
		kind = ebb.ErrExpired
	}
	return &callError{op: req.op, kinds: []error{kind}, msg: "the server is gone for good"}
}

// attempt makes one attempt of req, bounded by Timeout plus its poll.
func (c *Client) attempt(ctx context.Context, req *request) error {
	if req.stream {
		return c.attemptStream(ctx, req)
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout+req.poll)
	defer cancel()
	resp, err := c.send(actx, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if req.answered != nil {
		req.answered(resp.Header)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxJSON))
	if err != nil {
		return c.transportErr(req, err)
	}
	if resp.StatusCode >= 300 {
		return c.responseErr(req, resp.StatusCode, b)
	}
	if req.out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.Unmarshal(b, req.out); err != nil {
			return &callError{op: req.op, status: resp.StatusCode, kinds: []error{ebb.ErrInvalid},
				msg: fmt.Sprintf("malformed answer: %v", err)}
		}
	}
	return nil
}

// attemptStream makes one attempt of a streaming req: the headers must
// come within Timeout; the body stays open in req.resp.
func (c *Client) attemptStream(ctx context.Context, req *request) error {
	actx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(c.cfg.Timeout, cancel)
	resp, err := c.send(actx, req)
	if !timer.Stop() {
		if err == nil {
			resp.Body.Close()
		}
		cancel()
		return c.transportErr(req, fmt.Errorf("no answer within %v: %w", c.cfg.Timeout, context.DeadlineExceeded))
	}
	if err != nil {
		cancel()
		return err
	}
	if resp.StatusCode >= 300 {
		defer cancel()
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxJSON))
		if err != nil {
			return c.transportErr(req, err)
		}
		return c.responseErr(req, resp.StatusCode, b)
	}
	req.resp, req.cancel = resp, cancel
	return nil
}

// send sends req and returns the response, whatever its status.
func (c *Client) send(ctx context.Context, req *request) (*http.Response, error) {
	u := c.base + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	var body io.Reader
	switch {
	case req.in != nil:
		body = bytes.NewReader(mustJSON(req.in))
	case req.inJSON != nil:
		body = bytes.NewReader(req.inJSON)
	case req.body != nil:
		// The transport closes the body it was given once it is done
		// with it; the caller's reader stays open.
		sb := &sentBody{r: req.body, done: ctx.Done(), closed: make(chan struct{})}
		req.sent = sb.closed
		body = sb
	}
	hreq, err := http.NewRequestWithContext(ctx, req.method, u, body)
	if err != nil {
		return nil, &callError{op: req.op, kinds: []error{ebb.ErrInvalid}, msg: err.Error()}
	}
	for k, v := range req.header {
		hreq.Header[k] = v
	}
	hreq.Header.Set("Authorization", c.auth)
	if req.in != nil || req.inJSON != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(hreq)
	if err != nil {
		return nil, c.transportErr(req, err)
	}
	return resp, nil
}

// responseErr decodes an error response.
func (c *Client) responseErr(req *request, status int, b []byte) error {
	var w wireError
	if json.Unmarshal(b, &w) != nil {
		w = wireError{Message: string(bytes.TrimSpace(b))}
	}
	return decodeError(req.op, status, w)
}

// transportErr classifies an error of the transport: a certificate
// refused by either side is ErrAuth, and a server that does not speak TLS
// to an https:// URL ebb.ErrInvalid, both final; anything else (a refused
// or reset connection, a timeout, a response cut short) is
// ebb.ErrUnavailable, and transient.
func (c *Client) transportErr(req *request, err error) error {
	switch {
	case tlsRefused(err):
		return &callError{op: req.op, kinds: []error{ErrAuth}, msg: err.Error(), cause: err}
	case notTLS(err):
		return &callError{op: req.op, kinds: []error{ebb.ErrInvalid}, msg: err.Error(), cause: err}
	}
	return &callError{op: req.op, kinds: []error{ebb.ErrUnavailable}, msg: err.Error(), cause: err, retry: true}
}

// transient reports whether err is worth another attempt of the same
// call: a transport failure, or a 502, 503 or 504 that did not come from
// an ebb server. An ebb server's own ebb.ErrUnavailable (a draining
// worker) is returned at once: its caller's policy decides when to ask
// again.
func transient(err error) bool {
	var ce *callError
	return errors.As(err, &ce) && ce.retry
}

// sentBody is a raw body as one attempt sends it. It stops with
// errBodyStopped once the call's context is done (done): the server
// receives none of it past that point, so a body cut short by its
// caller is never whole there and never acted on (a Put canceled while
// it reads stores nothing, where the transport could otherwise send the
// rest before it noticed). Close, the transport's word that it is done
// reading, closes closed and leaves the caller's reader open.
type sentBody struct {
	r      io.Reader
	done   <-chan struct{}
	once   sync.Once
	closed chan struct{}
}

// errBodyStopped is what a sentBody reads once its call's context is done.
var errBodyStopped = errors.New("remote: the call ended while its body was sent")

func (b *sentBody) Read(p []byte) (int, error) {
	select {
	case <-b.done:
		return 0, errBodyStopped
	default:
	}
	return b.r.Read(p)
}

func (b *sentBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}
