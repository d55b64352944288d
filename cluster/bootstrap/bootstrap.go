package bootstrap

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool/remote"
)

// Bootstrap listens for the announcements of the workers it expects and
// connects to them once they serve. Make one with New; Close it.
//
// A Bootstrap is safe for concurrent use. It runs one goroutine, its HTTP
// server, from New until Close.
type Bootstrap struct {
	cfg  Config
	url  string // the registry's base URL, as workers reach it
	pin  string // the certificate's fingerprint; "" with NoTLS
	hs   *http.Server
	errc chan error // the server's end
	// refuser answers the blob requests of no expected worker: a server
	// of Config.Blobs whose token nobody has. Nil without Blobs.
	refuser *remote.Server

	mu       sync.Mutex
	expected map[cluster.WorkerID]*Expected
	byToken  map[[sha256.Size]byte]*Expected
	closed   bool
}

// New starts listening for announcements at cfg.Listen. It fails with an
// error wrapping ebb.ErrInvalid for a bad Config, and with the listener's
// error when it cannot listen.
func New(cfg Config) (*Bootstrap, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	kept, err := loadKept(cfg.Keep)
	if err != nil {
		cfg.Logger.Warn("bootstrap: the kept address and certificate are unreadable; making new ones", "file", cfg.Keep, "err", err)
	}
	var ln net.Listener
	if kept != nil {
		if ln, err = net.Listen("tcp", kept.Addr); err != nil {
			cfg.Logger.Warn("bootstrap: the kept address is taken; the workers of an earlier driver will not reach this one", "addr", kept.Addr, "err", err)
			kept = nil
		}
	}
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, fmt.Errorf("bootstrap: listening at %s: %w", cfg.Listen, err)
		}
	}
	b := &Bootstrap{
		cfg:      cfg,
		errc:     make(chan error, 1),
		expected: make(map[cluster.WorkerID]*Expected),
		byToken:  make(map[[sha256.Size]byte]*Expected),
	}
	b.url, err = advertised(ln.Addr(), cfg.Advertise, !cfg.NoTLS)
	if err != nil {
		ln.Close()
		return nil, err
	}
	reg, err := remote.NewRegistry(remote.RegistryConfig{Authorize: b.authorize, Announce: b.announce, Reply: b.reply, Logger: cfg.Logger})
	if err != nil {
		ln.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", reg) // the registry answers 404 to all but POST /v1/workers, after the token
	if cfg.Blobs != nil {
		b.refuser, err = remote.NewServer(remote.ServerConfig{Repository: cfg.Blobs, Token: remote.NewToken(), Logger: cfg.Logger})
		if err != nil {
			ln.Close()
			return nil, err
		}
		mux.HandleFunc("/v1/blobs", b.serveBlobs)
		mux.HandleFunc("/v1/blobs/", b.serveBlobs)
	}
	b.hs = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	if !cfg.NoTLS {
		var cert tls.Certificate
		if kept != nil && kept.Cert != "" {
			cert, err = tls.X509KeyPair([]byte(kept.Cert), []byte(kept.Key))
		} else {
			host, _, _ := net.SplitHostPort(ln.Addr().String())
			hosts := []string{host, "localhost", "127.0.0.1", "::1"}
			if u, err := url.Parse(b.url); err == nil {
				hosts = append(hosts, u.Hostname())
			}
			cert, err = remote.SelfSigned(hosts, 365*24*time.Hour)
		}
		if err != nil {
			ln.Close()
			return nil, err
		}
		b.pin = remote.Fingerprint(cert.Certificate[0])
		b.hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if cfg.Keep != "" && kept == nil {
		if err := keep(cfg.Keep, ln.Addr().String(), b.hs.TLSConfig); err != nil {
			ln.Close()
			return nil, err
		}
	}
	// The adopted workers' tokens are known before the first request: a
	// worker that reaches the new bootstrap first is not refused.
	for _, rec := range cfg.Adopt {
		if _, err := b.Adopt(rec); err != nil {
			cfg.Logger.Warn("bootstrap: cannot adopt a worker", "worker", rec.ID, "err", err)
		}
	}
	go func() {
		if b.hs.TLSConfig != nil {
			b.errc <- b.hs.ServeTLS(ln, "", "")
		} else {
			b.errc <- b.hs.Serve(ln)
		}
	}()
	cfg.Logger.Info("bootstrap: listening for workers", "url", b.url)
	return b, nil
}

// URL returns the base URL the workers announce to (their -driver).
func (b *Bootstrap) URL() string { return b.url }

// Pin returns the fingerprint of the certificate the bootstrap serves
// (the workers' -driver-pin), or "" with Config.NoTLS.
func (b *Bootstrap) Pin() string { return b.pin }

// Close stops listening, forgets every expected worker (closing their
// Gone channels: their clients' calls fail from then on) and returns once
// the server's goroutine has ended. Closing again returns nil.
//
// The requests in flight are served to their end, within Config.Grace,
// with the workers' tokens still known: a worker's blob put that was
// under way when its driver stopped succeeds, or is cut off and tried
// again (at a resumed driver, see Config.Keep), but it is never refused
// as a stranger's, which the worker would take for a final answer.
func (b *Bootstrap) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	for _, e := range b.expected {
		e.Lost()
	}
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.Grace)
	defer cancel()
	err := b.hs.Shutdown(ctx)
	if err != nil {
		b.hs.Close()
	}
	serr := <-b.errc
	b.mu.Lock()
	clear(b.expected)
	clear(b.byToken)
	b.mu.Unlock()
	if !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("bootstrap: serving at %s: %w", b.url, serr)
	}
	return err
}

// Expect prepares the start of a worker named id, of the given shape: it
// returns the command line and environment to start it with, and waits,
// in Expected.Wait, for its announcement. The id must be valid (see
// cluster.WorkerID) and not expected already; it fails with an error
// wrapping ebb.ErrInvalid otherwise, and with ebb.ErrClosed after Close.
func (b *Bootstrap) Expect(id cluster.WorkerID, shape cluster.Shape) (*Expected, error) {
	if err := id.Validate(); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	if err := shape.Validate(); err != nil {
		return nil, fmt.Errorf("bootstrap: worker %s: %w", id, err)
	}
	return b.expect(id, shape, remote.NewToken())
}

// Adopt takes over a worker an earlier bootstrap expected (a driver's,
// before it crashed), from what a cluster.WorkerRecord says of it: its
// token, and where it serves. The worker counts as announced: Wait
// connects to it at once. Its later announcements (that it leaves) and
// its blob requests are taken as those of any expected worker, which
// reach this bootstrap when it serves where the earlier one did (see
// Config.Keep). Adopting a worker of Config.Adopt, which New adopted
// before it served, returns the same Expected. It fails as Expect does,
// and with ebb.ErrInvalid for an empty token or URL.
func (b *Bootstrap) Adopt(rec cluster.WorkerRecord) (*Expected, error) {
	if err := rec.ID.Validate(); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	if err := rec.Shape.Validate(); err != nil {
		return nil, fmt.Errorf("bootstrap: worker %s: %w", rec.ID, err)
	}
	if rec.Token == "" || !rec.Up() {
		return nil, fmt.Errorf("bootstrap: adopt %s: the record has no token or no URL: %w", rec.ID, ebb.ErrInvalid)
	}
	b.mu.Lock()
	e := b.expected[rec.ID]
	b.mu.Unlock()
	if e != nil && e.token == rec.Token {
		return e, nil // adopted in New (Config.Adopt)
	}
	e, err := b.expect(rec.ID, rec.Shape, rec.Token)
	if err != nil {
		return nil, err
	}
	e.up(remote.Announcement{ID: string(rec.ID), URL: rec.URL, Pin: rec.Pin, Resources: rec.Shape.Resources.Clone(), State: remote.StateUp})
	return e, nil
}

// expect registers an expected worker with the given token.
func (b *Bootstrap) expect(id cluster.WorkerID, shape cluster.Shape, token string) (*Expected, error) {
	e := &Expected{
		b:     b,
		id:    id,
		shape: shape,
		token: token,
		key:   sha256.Sum256([]byte(token)),
		upc:   make(chan struct{}),
		gonec: make(chan struct{}),
	}
	if b.cfg.Blobs != nil {
		// The worker's own server of the driver's repository, which
		// only its token opens.
		srv, err := remote.NewServer(remote.ServerConfig{Repository: b.cfg.Blobs, Token: token, Logger: b.cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("bootstrap: worker %s: %w", id, err)
		}
		e.blobs = srv
	}
	e.Argv = b.argv(id, shape)
	e.Env = []string{"EBB_TOKEN=" + token}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return nil, fmt.Errorf("bootstrap: expect %s: %w", id, ebb.ErrClosed)
	case b.expected[id] != nil:
		return nil, fmt.Errorf("bootstrap: worker %s is expected already: %w", id, ebb.ErrInvalid)
	}
	b.expected[id] = e
	b.byToken[e.key] = e
	return e, nil
}

// Forget stops expecting the worker named id: its announcements are
// refused from then on, and its Gone channel is closed. Forgetting a
// worker that is not expected does nothing.
func (b *Bootstrap) Forget(id cluster.WorkerID) {
	b.mu.Lock()
	e := b.expected[id]
	if e != nil {
		delete(b.expected, id)
		delete(b.byToken, e.key)
	}
	b.mu.Unlock()
	if e != nil {
		e.Lost()
	}
}

// argv is the command line of the worker named id.
func (b *Bootstrap) argv(id cluster.WorkerID, shape cluster.Shape) []string {
	c := b.cfg
	argv := append(c.Command[:len(c.Command):len(c.Command)],
		"-id", string(id),
		"-listen", c.WorkerListen,
		"-resources", shape.Resources.Format(),
		"-lease-timeout", c.LeaseTimeout.String(),
		"-grace", c.Grace.String(),
		"-driver", b.url,
	)
	if b.pin != "" {
		argv = append(argv, "-driver-pin", b.pin)
	}
	if c.NoTLS {
		argv = append(argv, "-no-tls")
	}
	if c.Repository != "" {
		argv = append(argv, "-repository", c.Repository)
	}
	if c.Blobs != nil {
		argv = append(argv, "-driver-blobs")
	}
	if c.PeerToken != "" {
		argv = append(argv, "-peers")
	}
	return argv
}

// reply is the answer to a worker's announcement that it is up: the
// run's peer token, if any.
func (b *Bootstrap) reply(a remote.Announcement) remote.AnnounceReply {
	if a.State != remote.StateUp {
		return remote.AnnounceReply{}
	}
	return remote.AnnounceReply{PeerToken: b.cfg.PeerToken}
}

// authorize reports whether token is an expected worker's. Tokens are
// looked up by their hash, so the lookup's timing tells nothing of them.
func (b *Bootstrap) authorize(token string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.byToken[sha256.Sum256([]byte(token))] != nil
}

// serveBlobs serves the driver's repository to the worker whose token the
// request carries, through that worker's own server; anyone else gets
// 401, or 503 while the bootstrap closes.
func (b *Bootstrap) serveBlobs(w http.ResponseWriter, r *http.Request) {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	b.mu.Lock()
	e := b.byToken[sha256.Sum256([]byte(token))]
	closing := b.closed
	b.mu.Unlock()
	if e == nil && closing {
		// While the bootstrap stops, a token it does not know may be a
		// worker's that a resumed driver will know: ask again, rather
		// than be refused for good.
		w.Header().Set("Retry-After", "1")
		http.Error(w, "bootstrap: the driver is stopping", http.StatusServiceUnavailable)
		return
	}
	if e == nil {
		// A server whose token nobody has refuses it as the protocol
		// does.
		b.refuser.ServeHTTP(w, r)
		return
	}
	if c := b.cfg.Counter; c != nil {
		w, r = c.wrap(w, r)
	}
	e.blobs.ServeHTTP(w, r)
}

// announce takes an announcement from an authorized worker: only for the
// ID its token was made for.
func (b *Bootstrap) announce(_ context.Context, a remote.Announcement) error {
	key := sha256.Sum256([]byte(a.Token))
	b.mu.Lock()
	e := b.expected[cluster.WorkerID(a.ID)]
	b.mu.Unlock()
	if e == nil || subtle.ConstantTimeCompare(e.key[:], key[:]) != 1 {
		b.cfg.Logger.Warn("bootstrap: refused an announcement for another worker's ID", "id", a.ID)
		return fmt.Errorf("bootstrap: worker %q is not expected with this token: %w", a.ID, ebb.ErrInvalid)
	}
	switch a.State {
	case remote.StateUp:
		if !a.Resources.Fits(e.shape.Resources) {
			b.cfg.Logger.Warn("bootstrap: a worker announced more than its shape", "worker", a.ID, "resources", a.Resources, "shape", e.shape)
			return fmt.Errorf("bootstrap: worker %s announced %s, more than its shape %s: %w", a.ID, a.Resources, e.shape, ebb.ErrInvalid)
		}
		e.up(a)
		b.cfg.Logger.Info("bootstrap: worker announced", "worker", a.ID, "url", a.URL)
	case remote.StateLeaving:
		e.Lost()
		b.cfg.Logger.Info("bootstrap: worker leaving", "worker", a.ID)
	}
	return nil
}

// advertised returns the registry's base URL: at advertise (a host, or
// host:port) when given, else at the listener's address, or at this
// machine's host name when it listens on every interface.
func advertised(addr net.Addr, advertise string, https bool) (string, error) {
	host, port, _ := net.SplitHostPort(addr.String())
	switch {
	case advertise != "":
		if h, p, err := net.SplitHostPort(advertise); err == nil {
			host, port = h, p
		} else {
			host = advertise
		}
	case net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified():
		h, err := os.Hostname()
		if err != nil {
			return "", fmt.Errorf("bootstrap: listening on every interface, and no host name to advertise: %w", err)
		}
		host = h
	}
	u := url.URL{Scheme: "http", Host: net.JoinHostPort(host, port)}
	if https {
		u.Scheme = "https"
	}
	if _, err := url.Parse(u.String()); err != nil || host == "" {
		return "", fmt.Errorf("bootstrap: Config.Advertise %q: not a host: %w", advertise, ebb.ErrInvalid)
	}
	return u.String(), nil
}
