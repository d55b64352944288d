package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// Defaults of the ServerConfig fields left zero.
const (
	DefaultMaxWait         = 30 * time.Second
	DefaultAcceptWindow    = 10 * time.Minute
	DefaultHeaderTimeout   = 10 * time.Second
	DefaultShutdownTimeout = 30 * time.Second
	DefaultMaxIdleConns    = 256
)

// ServerConfig configures a Server. Token is required, and at least one of
// Pool and Repository.
type ServerConfig struct {
	// Pool is the pool served. Without one, the pool endpoints fail with
	// ebb.ErrInvalid and the server serves only blobs.
	Pool pool.Pool

	// Repository is the blob store served: where the pool stages exec
	// inputs from and stores exec outputs to, so that a driver puts
	// inputs and gets outputs by digest. Stat is served when it has a
	// Stat method (a repository.Store does). Without one, the blob
	// endpoints fail with ebb.ErrInvalid.
	Repository pool.Repository

	// Token is the bearer token every request must carry: at least
	// MinTokenLen printable ASCII characters. Make one with NewToken.
	Token string

	// ClientCAs, when set, makes the server require mutual TLS as well:
	// every request must come over TLS with a client certificate, for
	// client authentication, signed by one of these CAs (a self-signed
	// certificate in the pool is its own CA). Serve with a TLSConfig of
	// the server's, which asks clients for their certificates. A request
	// without a valid one is refused like one without the token.
	ClientCAs *x509.CertPool

	// MaxWait bounds a wait long poll: a client asking to wait longer
	// gets "not done yet" after MaxWait and asks again. Default 30 s.
	MaxWait time.Duration

	// AcceptWindow is how long the server remembers the idempotency key
	// of an Accept and its answer, so that a client retrying an Accept
	// whose answer it lost gets the same alloc instead of a second one.
	// Default 10 minutes.
	AcceptWindow time.Duration

	// HeaderTimeout bounds how long Serve waits for a request's headers
	// (and the TLS handshake before them): a client sends them at once,
	// so a connection silent for longer is closed. Default 10 s.
	// ShutdownTimeout bounds how long Serve waits, once its context is
	// done, for the requests in flight to finish. Default 30 s.
	HeaderTimeout, ShutdownTimeout time.Duration

	// MaxIdleConns bounds the connections Serve keeps open with no
	// request in flight: those that have sent nothing yet and idle
	// keep-alive ones. Past it, the oldest of them is closed, so that
	// connections left open by anyone who can reach the port (no token
	// is needed to connect) neither exhaust the process's file
	// descriptors nor lock real clients out. Default 256.
	MaxIdleConns int

	// Logger receives the requests that failed on the server's side and
	// the refused ones: ten of these at once, then one a second at most,
	// each saying how many were left out before it. Nil discards them.
	Logger *slog.Logger
}

// Server serves a pool and a repository over the pool protocol (see the
// package doc). It is an http.Handler; Serve runs it on a listener.
//
// A Server is safe for concurrent use. Its state is the drain flag
// (atomic), the time of the last renewal (under renewMu), and the
// memories of Accept keys and of verified client certificates (each
// under its own mutex); it holds no lock while calling the pool.
// The server does not own the pool or the repository: whoever made them
// closes them.
type Server struct {
	cfg     ServerConfig
	check   tokenCheck
	certs   *clientCerts // nil without ClientCAs
	mux     *http.ServeMux
	log     *slog.Logger
	accepts acceptMemory

	draining atomic.Bool

	// conns bounds the connections without a request in flight.
	conns *idleConns
	// refusals limits the log lines of refused requests.
	refusals *logLimit

	renewMu sync.Mutex
	renewed time.Time // the last Accept or Keepalive that succeeded, or New
}

// NewServer returns a server for cfg, with the defaults filled in. It
// fails with an error wrapping ebb.ErrInvalid, naming the field, when cfg
// is malformed.
func NewServer(cfg ServerConfig) (*Server, error) {
	if err := validToken("ServerConfig.Token", cfg.Token); err != nil {
		return nil, err
	}
	if cfg.Pool == nil && cfg.Repository == nil {
		return nil, fmt.Errorf("remote: ServerConfig: neither Pool nor Repository set: %w", ebb.ErrInvalid)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"MaxWait", &cfg.MaxWait, DefaultMaxWait},
		{"AcceptWindow", &cfg.AcceptWindow, DefaultAcceptWindow},
		{"HeaderTimeout", &cfg.HeaderTimeout, DefaultHeaderTimeout},
		{"ShutdownTimeout", &cfg.ShutdownTimeout, DefaultShutdownTimeout},
	} {
		switch {
		case *d.v == 0:
			*d.v = d.def
		case *d.v < 0:
			return nil, fmt.Errorf("remote: ServerConfig.%s %v: must not be negative: %w", d.name, *d.v, ebb.ErrInvalid)
		}
	}
	switch {
	case cfg.MaxIdleConns == 0:
		cfg.MaxIdleConns = DefaultMaxIdleConns
	case cfg.MaxIdleConns < 0:
		return nil, fmt.Errorf("remote: ServerConfig.MaxIdleConns %d: must not be negative: %w", cfg.MaxIdleConns, ebb.ErrInvalid)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:     cfg,
		check:   newTokenCheck(cfg.Token),
		mux:     http.NewServeMux(),
		log:     cfg.Logger,
		accepts: acceptMemory{window: cfg.AcceptWindow},
		conns:   newIdleConns(cfg.MaxIdleConns),
		// Ten lines at once, then one a second: enough to see who
		// knocks, not enough to fill a disk.
		refusals: newLogLimit(10, time.Second),
		renewed:  time.Now(),
	}
	if cfg.ClientCAs != nil {
		s.certs = &clientCerts{cas: cfg.ClientCAs}
	}
	s.routes()
	return s, nil
}

// ServeHTTP checks the request's token, and its client certificate when
// ClientCAs is set, and answers 401 without looking further when either
// is missing or wrong; then it serves the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.check.ok(r) || s.certs != nil && !s.certs.check(r) {
		if ok, suppressed := s.refusals.allow(time.Now()); ok {
			s.log.Warn("remote: refused a request without the right credentials", "method", r.Method, "path", r.URL.Path, "from", r.RemoteAddr, "suppressed", suppressed)
		}
		refuse(w)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Drain makes the server take nothing new: from now on Offers lists none,
// and Accept and Put fail with ebb.ErrUnavailable. Every other call is
// served as before, so that a driver learns what becomes of the allocs
// and execs it holds. Drain cannot be undone; calling it again does
// nothing.
func (s *Server) Drain() { s.draining.Store(true) }

// Draining reports whether Drain was called.
func (s *Server) Draining() bool { return s.draining.Load() }

// LastRenewal returns when an Accept or a Keepalive last succeeded, or
// when the server was made if none has.
func (s *Server) LastRenewal() time.Time {
	s.renewMu.Lock()
	defer s.renewMu.Unlock()
	return s.renewed
}

func (s *Server) renew() {
	now := time.Now()
	s.renewMu.Lock()
	if now.After(s.renewed) {
		s.renewed = now
	}
	s.renewMu.Unlock()
}

// WaitIdle blocks until nobody has held a lease of the pool for timeout:
// no alloc lived in it, and no Accept or Keepalive succeeded. Then it
// returns nil; or ctx's error when ctx is done first. It looks at the
// pool's allocs every eighth of timeout, on the time package's timers (so
// under testing/synctest it takes no real time). A pool whose Allocs
// fails counts as holding none. A server without a pool is idle once no
// renewal came for timeout, which is the whole time.
func (s *Server) WaitIdle(ctx context.Context, timeout time.Duration) error {
	if timeout <= 0 {
		return fmt.Errorf("remote: WaitIdle: timeout %v: must be positive: %w", timeout, ebb.ErrInvalid)
	}
	every := max(timeout/8, time.Millisecond)
	t := time.NewTimer(every)
	defer t.Stop()
	busy := time.Now()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if s.cfg.Pool != nil {
			allocs, err := s.cfg.Pool.Allocs(ctx)
			if err == nil && len(allocs) > 0 {
				busy = time.Now()
			}
		}
		now := time.Now()
		last := s.LastRenewal()
		if busy.After(last) {
			last = busy
		}
		left := timeout - now.Sub(last)
		if left <= 0 {
			return nil
		}
		t.Reset(min(every, left))
	}
}

// Serve serves s on ln until ctx is done, with TLS when tlsCfg is not nil
// (see TLSConfig), and then shuts down: it stops listening, waits up to
// ShutdownTimeout for the requests in flight, and closes every
// connection. It returns nil after a shutdown, or the error that stopped
// it serving. Serve closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsCfg *tls.Config) error {
	return s.serveHandler(ctx, ln, tlsCfg, s)
}

// serveHandler is Serve with h, which wraps s, as the handler.
func (s *Server) serveHandler(ctx context.Context, ln net.Listener, tlsCfg *tls.Config, h http.Handler) error {
	// Requests are not cancelled with ctx, so that a Free or a Put in
	// flight completes; long polls end early once the shutdown begins,
	// and answer "not done yet" (see stoppingKey).
	stopc := make(chan struct{})
	base := context.WithValue(context.WithoutCancel(ctx), stoppingKey{}, (<-chan struct{})(stopc))
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.cfg.HeaderTimeout,
		// A token and a wait's exec IDs fit in a few KiB; the default
		// would let anyone make the server buffer a megabyte.
		MaxHeaderBytes: 64 << 10,
		IdleTimeout:    2 * s.cfg.MaxWait,
		TLSConfig:      tlsCfg,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:    func(net.Listener) context.Context { return base },
		ConnState:      s.conns.hook,
	}
	hs.RegisterOnShutdown(func() { close(stopc) })
	errc := make(chan error, 1)
	go func() {
		if tlsCfg != nil {
			errc <- hs.ServeTLS(ln, "", "")
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("remote: serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if err != nil {
		hs.Close()
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("remote: serving on %s: %w", ln.Addr(), serr)
	}
	if err != nil {
		return fmt.Errorf("remote: shutting down on %s: %w", ln.Addr(), err)
	}
	return nil
}

// stoppingKey keys, in the context of the requests Serve serves, a
// channel closed when Serve begins to shut down.
type stoppingKey struct{}

// stopping returns the channel under stoppingKey in ctx, or nil.
func stopping(ctx context.Context) <-chan struct{} {
	c, _ := ctx.Value(stoppingKey{}).(<-chan struct{})
	return c
}

// fail answers a request with err.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, body := encodeError(err)
	if status >= 500 && r.Context().Err() == nil {
		s.log.Warn("remote: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, body)
}

// serve wraps a handler that answers JSON: f returns the value to send,
// nil for 204 No Content, or an error.
func (s *Server) serve(f func(r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := f(r)
		switch {
		case err != nil:
			s.fail(w, r, err)
		case v == nil:
			w.WriteHeader(http.StatusNoContent)
		default:
			writeJSON(w, http.StatusOK, v)
		}
	}
}

// pool returns the pool served, or an error when there is none.
func (s *Server) pool() (pool.Pool, error) {
	if s.cfg.Pool == nil {
		return nil, fmt.Errorf("this server serves no pool: %w", ebb.ErrInvalid)
	}
	return s.cfg.Pool, nil
}

// errDraining is what Accept and Put answer once the server drains.
func errDraining(what string) error {
	return fmt.Errorf("%s: the worker is draining and takes nothing new: %w", what, ebb.ErrUnavailable)
}
