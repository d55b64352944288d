package remote

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/backoff"
	"github.com/ebbflow/ebb/pool"
)

// Defaults of the ClientConfig fields left zero.
const (
	DefaultTimeout   = 30 * time.Second
	DefaultRetryMin  = 50 * time.Millisecond
	DefaultRetryMax  = 2 * time.Second
	DefaultWaitPoll  = 20 * time.Second
	DefaultBatchHold = 5 * time.Millisecond
)

// ClientConfig configures a Client. URL and Token are required.
type ClientConfig struct {
	// URL is the server's base URL, as a worker prints it:
	// "https://host:port" or "http://host:port".
	URL string

	// Token is the bearer token sent with every request.
	Token string

	// Pin, when set, is the Fingerprint of the certificate the server
	// must present; the client then trusts that certificate alone, and
	// checks neither its chain nor its names. A Pin (or TLS) with an
	// http:// URL is refused: the token would go in clear.
	Pin string

	// TLS is the base TLS configuration, cloned: RootCAs to verify the
	// server by a CA instead of a pin, Certificates to present a client
	// certificate to a server that asks for one (mutual TLS). Nil uses
	// the system's roots.
	TLS *tls.Config

	// Timeout bounds every call, retries included, except that a Wait's
	// polls may each take WaitPoll longer, that the body of a stream
	// (Logs, a blob's content) is bounded only by ctx once its headers
	// have come, and that RetryFor may allow a call's retries longer.
	// It also bounds dialing and the TLS handshake, so a call never
	// hangs on a peer that vanished. Default 30 s.
	Timeout time.Duration

	// RetryFor, when longer than Timeout, is how long a call that keeps
	// failing in a transient way (the server unreachable, restarting,
	// answering 503) is retried, from its first attempt, before it
	// fails with ebb.ErrUnavailable; each attempt is still bounded by
	// Timeout, and ctx ends the call at once. It is for a client whose
	// server may be away a while and come back at the same address: a
	// worker storing outputs to a driver that is being resumed. A
	// refusal (ErrAuth) or any other final answer is not retried. Zero
	// (the default) retries within Timeout.
	RetryFor time.Duration

	// RetryMin and RetryMax pace the retries of a call that failed in a
	// transient way (see the package doc): the first waits RetryMin,
	// each next one twice as long, up to RetryMax, within Timeout.
	// Defaults 50 ms and 2 s.
	RetryMin, RetryMax time.Duration

	// WaitPoll is how long one poll of Exec.Wait asks the server to
	// wait; the server may bound it lower (ServerConfig.MaxWait).
	// Default 20 s.
	WaitPoll time.Duration

	// Gone, when not nil, is closed by the caller once it knows the
	// server is gone for good: its process exited. From then on every
	// call fails at once: the calls on an alloc or an exec with
	// ebb.ErrExpired (the alloc is lost), the others with ebb.ErrClosed.
	Gone <-chan struct{}

	// Transport, when not nil, carries the requests instead of the
	// client's own HTTP transport; TLS and the dial timeouts are then
	// its business. See InProcess.
	Transport http.RoundTripper

	// NoBatch turns the batch extension off: every Put, Wait and Remove
	// is a request of its own, as with a server that lacks the
	// extension. By default the client batches the concurrent calls on
	// one alloc when the server offers it (see the package doc).
	NoBatch bool

	// BatchHold bounds how long a batch in flight holds back the calls
	// that queue behind it: once it has waited that long for its
	// answer (a put staging big inputs, say), they go without it.
	// Default 5 ms.
	BatchHold time.Duration
}

// Client is a pool.Pool served by a remote Server: every method is a call
// of the pool protocol. Its allocs, offers and execs are handles that
// name the remote objects by ID; they hold no state of their own beyond
// an alloc's resources. Repository returns the server's blob store.
//
// A Client is safe for concurrent use. Its HTTP transport keeps idle
// connections, which Close closes. When it batches (see the package
// doc), it sends a batch of calls that queued behind another from a
// goroutine, which ends once the batch is answered and none is queued,
// or once every caller in the batch has gone; a call alone is sent from
// its caller's goroutine. Make one with Dial.
type Client struct {
	cfg   ClientConfig
	base  string // URL without a trailing slash
	hc    *http.Client
	own   *http.Transport // nil when cfg.Transport was given
	auth  string
	id    string
	batch bool // the server offers the batch extension, and cfg allows it
	// waitQuery asks a wait poll to wait WaitPoll.
	waitQuery url.Values
	retry     backoff.Policy
	// refusedIsGone makes a refused connection final: nobody listens
	// at the address, and a peer's server does not come back there.
	refusedIsGone bool
}

var _ pool.Pool = (*Client)(nil)

// Dial returns a client of the server at cfg.URL, after a first call that
// learns the pool's ID (retried within cfg.Timeout while the server is
// unreachable). It fails with ebb.ErrInvalid, naming the field, when cfg
// is malformed, with ErrAuth when the server refuses the token or the
// client refuses the server's certificate, and with ebb.ErrUnavailable
// when the server did not answer. A server that serves no pool (only
// blobs) fails with ebb.ErrInvalid; use NewRepository for one. The
// answer also says whether the server offers the batch extension.
func Dial(ctx context.Context, cfg ClientConfig) (*Client, error) {
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	var info poolWire
	if err := c.do(ctx, &request{op: "dial", method: "GET", path: prefix + "/pool", out: &info}); err != nil {
		c.Close()
		return nil, err
	}
	c.id = info.ID
	c.batch = !cfg.NoBatch && slices.Contains(info.Extensions, extBatch)
	return c, nil
}

// newClient checks cfg, fills in its defaults, and makes the client
// without calling the server.
func newClient(cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("remote: ClientConfig.URL %q: want http:// or https:// and a host: %w", cfg.URL, ebb.ErrInvalid)
	}
	if err := validToken("ClientConfig.Token", cfg.Token); err != nil {
		return nil, err
	}
	if cfg.Pin != "" {
		if err := validPin(cfg.Pin); err != nil {
			return nil, err
		}
	}
	// A pin or TLS settings say the caller wants the server checked and
	// the token hidden; over http:// neither would happen, silently.
	if u.Scheme == "http" && (cfg.Pin != "" || cfg.TLS != nil) {
		what := "ClientConfig.Pin"
		if cfg.Pin == "" {
			what = "ClientConfig.TLS"
		}
		return nil, fmt.Errorf("remote: ClientConfig.URL %q with %s: plain http would send the token in clear, unchecked; use https://: %w", cfg.URL, what, ebb.ErrInvalid)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"Timeout", &cfg.Timeout, DefaultTimeout},
		{"RetryFor", &cfg.RetryFor, 0},
		{"RetryMin", &cfg.RetryMin, DefaultRetryMin},
		{"RetryMax", &cfg.RetryMax, DefaultRetryMax},
		{"WaitPoll", &cfg.WaitPoll, DefaultWaitPoll},
		{"BatchHold", &cfg.BatchHold, DefaultBatchHold},
	} {
		switch {
		case *d.v == 0:
			*d.v = d.def
		case *d.v < 0:
			return nil, fmt.Errorf("remote: ClientConfig.%s %v: must not be negative: %w", d.name, *d.v, ebb.ErrInvalid)
		}
	}
	cfg.RetryMax = max(cfg.RetryMax, cfg.RetryMin)
	c := &Client{
		cfg:       cfg,
		base:      strings.TrimSuffix(cfg.URL, "/"),
		auth:      "Bearer " + cfg.Token,
		retry:     backoff.Policy{Min: cfg.RetryMin, Max: cfg.RetryMax, Factor: 2, Jitter: 0.2},
		waitQuery: url.Values{"timeout": {cfg.WaitPoll.String()}},
	}
	rt := cfg.Transport
	if rt == nil {
		c.own = &http.Transport{
			// Workers are reached directly: no proxy.
			DialContext:         (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 15 * time.Second}).DialContext,
			TLSClientConfig:     clientTLS(cfg.TLS, cfg.Pin),
			TLSHandshakeTimeout: cfg.Timeout,
			ForceAttemptHTTP2:   true,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		}
		rt = c.own
	}
	c.hc = &http.Client{Transport: rt}
	return c, nil
}

// Close closes the client's idle connections. The client still works
// afterwards, making new ones.
func (c *Client) Close() error {
	if c.own != nil {
		c.own.CloseIdleConnections()
	}
	return nil
}

// ID returns the ID of the remote pool, learned by Dial.
func (c *Client) ID() string { return c.id }

// URL returns the server's base URL.
func (c *Client) URL() string { return c.base }

// Pin returns the pin the client checks the server's certificate
// against, if any.
func (c *Client) Pin() string { return c.cfg.Pin }

// gone reports whether ClientConfig.Gone is closed.
func (c *Client) gone() bool {
	select {
	case <-c.cfg.Gone:
		return true
	default:
		return false
	}
}
