package remote

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/repository"
	"github.com/opencontainers/go-digest"
)

// LocalBlobs is what a PeerServer serves: blobs this worker holds, read
// without fetching them from anywhere (local.BlobCache). Local's reader
// fails at its end with ebb.ErrCorrupt when the content does not match d;
// Size answers without reading. Both fail with ebb.ErrNotExist for a blob
// not held.
type LocalBlobs interface {
	Local(ctx context.Context, d digest.Digest) (io.ReadCloser, error)
	Size(d digest.Digest) (int64, error)
}

// PeerServerConfig configures a PeerServer.
type PeerServerConfig struct {
	// Blobs are the blobs served.
	Blobs LocalBlobs
	// Token is the run's peer token, which every worker of the run
	// holds (and only they): at least MinTokenLen printable ASCII
	// characters. It is not a worker's own token, which opens its pool.
	Token string
	// ShutdownTimeout bounds how long Serve waits for transfers in
	// flight when its context ends; zero means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
}

// PeerServerStats counts what a PeerServer sent.
type PeerServerStats struct {
	Blobs int64 // blobs sent whole
	Bytes int64 // bytes of blob content sent
}

// A PeerServer serves a worker's blobs to the other workers of its run,
// by digest: GET /v1/peer/blobs/{digest} (its content) and GET
// /v1/peer/blobs/{digest}/stat ({digest, size}: whether it is held), with
// the run's peer token as bearer token. A blob the worker does not hold answers not found (the
// peer then asks elsewhere); the server never fetches on a peer's
// behalf. It is an http.Handler, safe for concurrent use.
type PeerServer struct {
	cfg   PeerServerConfig
	check tokenCheck
	mux   *http.ServeMux
	blobs atomic.Int64
	bytes atomic.Int64
}

// NewPeerServer returns a peer server for cfg. It fails with
// ebb.ErrInvalid without Blobs or with a malformed Token.
func NewPeerServer(cfg PeerServerConfig) (*PeerServer, error) {
	if err := validToken("PeerServerConfig.Token", cfg.Token); err != nil {
		return nil, err
	}
	if cfg.Blobs == nil {
		return nil, fmt.Errorf("remote: PeerServerConfig.Blobs is nil: %w", ebb.ErrInvalid)
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &PeerServer{cfg: cfg, check: newTokenCheck(cfg.Token), mux: http.NewServeMux()}
	s.mux.HandleFunc("GET "+peerPrefix+"/blobs/{digest}", s.getBlob)
	s.mux.HandleFunc("GET "+peerPrefix+"/blobs/{digest}/stat", s.statBlob)
	return s, nil
}

const peerPrefix = prefix + "/peer"

// Stats returns what the server has sent so far.
func (s *PeerServer) Stats() PeerServerStats {
	return PeerServerStats{Blobs: s.blobs.Load(), Bytes: s.bytes.Load()}
}

// ServeHTTP answers 401 to a request without the peer token.
func (s *PeerServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.check.ok(r) {
		refuse(w)
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *PeerServer) getBlob(w http.ResponseWriter, r *http.Request) {
	fail := func(err error) {
		status, body := encodeError(err)
		writeJSON(w, status, body)
	}
	d, err := blobDigest(r)
	if err != nil {
		fail(err)
		return
	}
	rc, err := s.cfg.Blobs.Local(r.Context(), d)
	if err != nil {
		fail(err)
		return
	}
	defer rc.Close()
	w.Header().Set("Trailer", trailerError)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	n, err := io.Copy(w, rc)
	s.bytes.Add(n)
	switch {
	case err == nil:
		s.blobs.Add(1)
	case r.Context().Err() == nil:
		_, body := encodeError(err)
		w.Header().Set(trailerError, string(mustJSON(body)))
		s.cfg.Logger.Warn("remote: sending a blob to a peer failed", "digest", d, "err", err)
	}
}

// Serve serves s on ln until ctx is done, with TLS when tlsCfg is not
// nil, then shuts down within ShutdownTimeout. It returns nil after a
// shutdown, or the error that stopped it serving. Serve closes ln.
func (s *PeerServer) Serve(ctx context.Context, ln net.Listener, tlsCfg *tls.Config) error {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: DefaultHeaderTimeout}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if err != nil {
		hs.Close()
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

func (s *PeerServer) statBlob(w http.ResponseWriter, r *http.Request) {
	d, err := blobDigest(r)
	if err == nil {
		var size int64
		if size, err = s.cfg.Blobs.Size(d); err == nil {
			writeJSON(w, http.StatusOK, repository.Info{Digest: d, Size: size})
			return
		}
	}
	status, body := encodeError(err)
	writeJSON(w, status, body)
}
