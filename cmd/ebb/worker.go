package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/backoff"
	"github.com/ebbflow/ebb/internal/tokenfile"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/local"
	"github.com/ebbflow/ebb/pool/remote"
	"github.com/ebbflow/ebb/repository"
)

// workerFlags are the flags of ebb worker.
type workerFlags struct {
	listen, id, dir, repo      string
	token, tokenFile           string
	resources                  ebb.Resources
	lease, leaseTimeout, grace time.Duration
	driver, driverPin          string
	driverBlobs                bool
	peers                      bool
	peerListen                 string
	cacheBytes                 int64
	tlsCert, tlsKey, clientCA  string
	noTLS                      bool
}

// workerCmd serves this machine's pool over the pool protocol: a local
// pool (pool/local) and its repository, behind a remote.Server. The
// repository is the worker's own, in -dir, into which the driver puts
// inputs and from which it gets outputs; or a directory shared with the
// driver on the same machine (-repository); or with -driver-blobs the
// driver's, served with the registry at -driver, from which the worker
// fetches inputs and to which it stores outputs directly. It prints
// one line to stdout once it listens (remote.ListeningLine), announces
// itself to -driver if given, and runs until a signal (ctx) or until no
// lease was renewed for -lease-timeout; then it drains: it takes nothing
// new, frees every alloc (running execs are lost: their Wait fails with
// ebb.ErrExpired), and exits 0.
func workerCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("worker", "", stderr)
	var f workerFlags
	fs.StringVar(&f.listen, "listen", "127.0.0.1:0", "`address` to listen on (port 0 picks a free port)")
	fs.StringVar(&f.id, "id", "worker", "the worker's `name`, its pool's ID: letters, digits, _ - .")
	fs.StringVar(&f.dir, "dir", "", "`directory` for the pool's execs and the repository's blobs (default: a temporary one, removed at exit)")
	fs.StringVar(&f.repo, "repository", "", "repository `directory` to stage inputs from and store outputs to, shared with others on this machine (default: one in -dir)")
	fs.StringVar(&f.token, "token", "", "bearer `token` every request must carry (default: the file named by $EBB_TOKEN_FILE, or $EBB_TOKEN)")
	fs.StringVar(&f.tokenFile, "token-file", "", "`file` holding the token, instead of -token. Without either flag, $EBB_TOKEN_FILE names the file (mode 0600, say), and with $EBB_TOKEN_FILE_REMOVE=1 the worker removes it once read: a batch script or a shell that does not exec the worker then keeps no token in its environment, nor leaves one on disk")
	fs.Var(&f.resources, "resources", "the pool's `capacity`, as cpu=4,mem=8GiB (default: this machine)")
	fs.DurationVar(&f.lease, "lease", local.DefaultLease, "the lease an alloc gets when it is accepted")
	fs.DurationVar(&f.leaseTimeout, "lease-timeout", 5*time.Minute, "stop once no alloc lived and no lease was renewed for this `long`")
	fs.DurationVar(&f.grace, "grace", 30*time.Second, "how `long` stopping may take: freeing the allocs, finishing the requests in flight")
	fs.StringVar(&f.driver, "driver", "", "base `URL` of the driver's registry to announce this worker to")
	fs.StringVar(&f.driverPin, "driver-pin", "", "`fingerprint` (sha256:...) of the driver's certificate")
	fs.BoolVar(&f.driverBlobs, "driver-blobs", false, "stage inputs from and store outputs to the driver's repository (at -driver) instead of one of the worker's own")
	fs.BoolVar(&f.peers, "peers", false, "with -driver-blobs: keep a blob cache, serve it to the run's other workers and fetch inputs from the worker that holds them, falling back to the driver; the run's peer token comes in the answer to the announcement")
	fs.StringVar(&f.peerListen, "peer-listen", "", "`address` to serve blobs to peers on, with -peers (default: the host of -listen, a free port)")
	fs.Int64Var(&f.cacheBytes, "cache-bytes", local.DefaultBlobCacheBytes, "with -peers: the `bytes` of fetched blobs the cache keeps, least recently used evicted first (the worker's own outputs are kept beyond it)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate `file` to serve with (default: a fresh self-signed one)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM private key `file` of -tls-cert")
	fs.StringVar(&f.clientCA, "client-ca", "", "PEM `file` of CA certificates: require client certificates signed by one (mutual TLS)")
	fs.BoolVar(&f.noTLS, "no-tls", false, "serve plain HTTP: the token crosses the network in clear")
	var lf logFlags
	lf.register(fs, slog.LevelInfo)
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%v: %w", err, errUsage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: %w", fs.Args(), errUsage)
	}
	token, err := f.readToken(os.Getenv)
	if err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	log, closeLog, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	// The token may point into the process's arguments, which hideToken
	// overwrites.
	token = strings.Clone(token)
	if err := hideToken(); err != nil {
		log.Warn("tasks may read the worker's token in /proc", "err", err)
	}
	return runWorker(ctx, f, token, stdout, log.With("worker", f.id))
}

// readToken returns the token from -token or -token-file, at most one
// of which may be given, or else from the environment (getenv): the file
// that $EBB_TOKEN_FILE names, or $EBB_TOKEN, not both. A file's content
// is trimmed of spaces. With $EBB_TOKEN_FILE_REMOVE=1, the file of
// $EBB_TOKEN_FILE is removed once read, and a failure to remove it fails
// readToken: a provider asks for it so that no token lies on disk once
// its worker started (a driver that adopts the worker later has the
// token in its own records).
func (f *workerFlags) readToken(getenv func(string) string) (string, error) {
	switch {
	case f.token != "" && f.tokenFile != "":
		return "", fmt.Errorf("-token and -token-file both given: %w", errUsage)
	case f.tokenFile != "":
		return readTokenFile("-token-file", f.tokenFile, false)
	case f.token != "":
		return f.token, nil
	}
	file, env := getenv(tokenfile.EnvFile), getenv(tokenfile.EnvToken)
	switch {
	case file != "" && env != "":
		return "", fmt.Errorf("$EBB_TOKEN_FILE and $EBB_TOKEN both set: %w", errUsage)
	case file != "":
		return readTokenFile("$EBB_TOKEN_FILE", file, getenv(tokenfile.EnvRemove) == "1")
	case env != "":
		return env, nil
	}
	return "", fmt.Errorf("no token: give -token, -token-file, $EBB_TOKEN_FILE or $EBB_TOKEN: %w", errUsage)
}

// readTokenFile returns the trimmed content of the token file path, named
// by what in errors, and removes the file once read when remove is set.
func readTokenFile(what, path string, remove bool) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if remove {
		if err := os.Remove(path); err != nil {
			return "", fmt.Errorf("%s: removing it once read ($EBB_TOKEN_FILE_REMOVE=1): %w", what, err)
		}
	}
	return strings.TrimSpace(string(b)), nil
}

// check rejects flags that do not go together.
func (f *workerFlags) check() error {
	switch {
	case (f.tlsCert == "") != (f.tlsKey == ""):
		return fmt.Errorf("-tls-cert and -tls-key go together: %w", errUsage)
	case f.noTLS && (f.tlsCert != "" || f.clientCA != ""):
		return fmt.Errorf("-no-tls with -tls-cert or -client-ca: %w", errUsage)
	case f.leaseTimeout <= 0 || f.lease <= 0 || f.grace <= 0:
		return fmt.Errorf("-lease, -lease-timeout and -grace must be positive: %w", errUsage)
	case f.driverPin != "" && f.driver == "":
		return fmt.Errorf("-driver-pin without -driver: %w", errUsage)
	case f.driverPin != "" && plainHTTP(f.driver):
		return fmt.Errorf("-driver %q with -driver-pin: plain http would send the token in clear; use https://: %w: %w", f.driver, errUsage, ebb.ErrInvalid)
	case f.driverBlobs && f.driver == "":
		return fmt.Errorf("-driver-blobs without -driver: %w", errUsage)
	case f.driverBlobs && f.repo != "":
		return fmt.Errorf("-driver-blobs and -repository both given: %w", errUsage)
	case f.peers && !f.driverBlobs:
		return fmt.Errorf("-peers without -driver-blobs: %w", errUsage)
	case f.peerListen != "" && !f.peers:
		return fmt.Errorf("-peer-listen without -peers: %w", errUsage)
	case f.cacheBytes <= 0:
		return fmt.Errorf("-cache-bytes must be positive: %w", errUsage)
	}
	return nil
}

// plainHTTP reports whether rawURL is an http:// URL.
func plainHTTP(rawURL string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && strings.EqualFold(u.Scheme, "http")
}

// runWorker serves until ctx is done or the leases lapse, then drains.
func runWorker(ctx context.Context, f workerFlags, token string, stdout io.Writer, log *slog.Logger) error {
	dir := f.dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "ebb-worker-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	driver := remote.ClientConfig{URL: f.driver, Token: token, Pin: f.driverPin, Timeout: f.grace}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	cert, cas, err := f.certificates(ln.Addr())
	if err != nil {
		return err
	}
	pin := ""
	if cert != nil {
		pin = remote.Fingerprint(cert.Certificate[0])
	}
	var peers *workerPeers
	repo, err := f.repository(dir, driver)
	if err != nil {
		return err
	}
	if f.peers {
		peers, err = newWorkerPeers(filepath.Join(dir, "cache"), ln.Addr().String(), f.peerListen, f.cacheBytes, repo.(*remote.Repository), cert, pin, log)
		if err != nil {
			return err
		}
		defer peers.origin.close()
		repo = peers.cache
	}
	p, err := local.New(local.Config{
		Dir:          filepath.Join(dir, "pool"),
		Resources:    f.resources,
		ID:           f.id,
		DefaultLease: f.lease,
		MaxLease:     max(local.DefaultMaxLease, f.lease),
		Repository:   repo,
		Logger:       log,
	})
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			closeBounded(ctx, p, f.grace)
		}
	}()
	srv, err := remote.NewServer(remote.ServerConfig{
		Pool: p, Repository: repo, Token: token, ClientCAs: cas, Logger: log, ShutdownTimeout: f.grace,
	})
	if err != nil {
		return err
	}
	var tlsCfg *tls.Config
	if cert != nil {
		tlsCfg = srv.TLSConfig(*cert)
	}
	self := advertised(ln.Addr(), tlsCfg != nil)
	fmt.Fprintln(stdout, remote.ListeningLine(self, pin))
	caps, err := p.Capacity(ctx)
	if err != nil {
		return err
	}
	log.Info("serving", "url", self, "capacity", caps[0], "lease_timeout", f.leaseTimeout)

	var wg sync.WaitGroup
	defer wg.Wait()
	serveCtx, stopServing := context.WithCancel(context.Background())
	defer stopServing()
	servec := make(chan error, 1)
	wg.Go(func() { servec <- srv.Serve(serveCtx, ln, tlsCfg) })
	idleCtx, stopIdle := context.WithCancel(ctx)
	defer stopIdle()
	idlec := make(chan error, 1)
	wg.Go(func() { idlec <- srv.WaitIdle(idleCtx, f.leaseTimeout) })
	announcement := remote.Announcement{ID: f.id, URL: self, Pin: pin, Resources: caps[0], State: remote.StateUp}
	if f.driver != "" {
		wg.Go(func() {
			reply := announce(idleCtx, driver, announcement, log)
			if peers == nil {
				return
			}
			if reply.PeerToken == "" {
				log.Warn("the driver handed no peer token: staging through it alone")
			}
			if err := peers.serve(serveCtx, reply.PeerToken); err != nil {
				log.Warn("serving blobs to peers", "err", err)
			}
		})
	}

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("stopping: signalled")
	case err := <-idlec:
		if err == nil {
			log.Info("stopping: no lease renewed", "for", f.leaseTimeout)
		}
	case serveErr = <-servec:
		servec <- serveErr // for the wait below
	}
	stopIdle()

	// Drain: take nothing new, tell the driver, end every alloc (their
	// execs' Waits answer ErrExpired), then stop serving.
	srv.Drain()
	stopCtx, cancel := context.WithTimeout(context.Background(), f.grace)
	defer cancel()
	if f.driver != "" {
		announcement.State = remote.StateLeaving
		if err := remote.Announce(stopCtx, driver, announcement); err != nil {
			log.Warn("announcing the departure failed", "err", err)
		}
	}
	closed = true
	if err := p.Close(stopCtx); err != nil {
		log.Warn("closing the pool", "err", err)
	}
	stopServing()
	if err := <-servec; err != nil && serveErr == nil {
		log.Warn("stopping the server", "err", err)
	}
	if peers != nil {
		peers.logStats()
	}
	log.Info("stopped")
	return serveErr
}

// repository returns the repository the worker's pool stages from and
// stores to, which it also serves: the driver's with -driver-blobs, the
// directory of -repository, or its own under dir.
func (f *workerFlags) repository(dir string, driver remote.ClientConfig) (pool.Repository, error) {
	switch {
	case f.driverBlobs:
		// A driver that dies and is resumed comes back where it was
		// (bootstrap.Config.Keep): a task's outputs wait for it, for as
		// long as the worker itself would (-lease-timeout).
		driver.RetryFor = f.leaseTimeout
		return remote.NewRepository(driver)
	case f.repo != "":
		return repository.Open(f.repo)
	}
	return repository.Open(filepath.Join(dir, "blobs"))
}

// certificates returns the certificate to serve with, nil with -no-tls,
// and the client CAs of -client-ca, if any.
func (f *workerFlags) certificates(addr net.Addr) (*tls.Certificate, *x509.CertPool, error) {
	if f.noTLS {
		return nil, nil, nil
	}
	var cert tls.Certificate
	var err error
	if f.tlsCert != "" {
		cert, err = tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
	} else {
		host, _, _ := net.SplitHostPort(addr.String())
		hosts := []string{host, "localhost", "127.0.0.1", "::1"}
		if h, err := os.Hostname(); err == nil {
			hosts = append(hosts, h)
		}
		cert, err = remote.SelfSigned(hosts, 365*24*time.Hour)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("-tls-cert: %w", err)
	}
	if f.clientCA == "" {
		return &cert, nil, nil
	}
	pem, err := os.ReadFile(f.clientCA)
	if err != nil {
		return nil, nil, fmt.Errorf("-client-ca: %w", err)
	}
	cas := x509.NewCertPool()
	if !cas.AppendCertsFromPEM(pem) {
		return nil, nil, fmt.Errorf("-client-ca %s: no PEM certificate in it: %w", f.clientCA, errUsage)
	}
	return &cert, cas, nil
}

// advertised returns the URL others reach the listener at: its address,
// or this host's name when it listens on every interface.
func advertised(addr net.Addr, https bool) string {
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	u := url.URL{Scheme: "http", Host: net.JoinHostPort(host, port)}
	if https {
		u.Scheme = "https"
	}
	return u.String()
}

// announce tells the driver the worker is up, trying again with backoff
// until it has, ctx is done, or the driver refuses it for good. It
// returns what the driver handed back, the zero reply if it did not.
func announce(ctx context.Context, cfg remote.ClientConfig, a remote.Announcement, log *slog.Logger) remote.AnnounceReply {
	policy := backoff.Policy{Min: time.Second, Max: time.Minute, Factor: 2, Jitter: 0.2}
	for try := 0; ; try++ {
		reply, err := remote.AnnounceFor(ctx, cfg, a)
		switch {
		case err == nil:
			log.Info("announced", "driver", cfg.URL, "peers", reply.PeerToken != "")
			return reply
		case ctx.Err() != nil:
			return remote.AnnounceReply{}
		case errors.Is(err, ebb.ErrInvalid):
			log.Error("the driver refused the announcement", "driver", cfg.URL, "err", err)
			return remote.AnnounceReply{}
		}
		log.Warn("announcing failed; trying again", "driver", cfg.URL, "err", err)
		if policy.Sleep(ctx, try) != nil {
			return remote.AnnounceReply{}
		}
	}
}
