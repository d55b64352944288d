package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/local"
	"github.com/ebbflow/ebb/pool/remote"
	"github.com/opencontainers/go-digest"
)

// workerPeers is what ebb worker -peers adds: a blob cache in front of
// the driver's repository, whose blobs the worker serves to the run's
// other workers on a listener of its own, and which fetches a blob it
// lacks from the worker that holds it, falling back to the driver. The
// run's peer token arrives in the answer to the worker's announcement
// (handOver); until then the cache's origin waits for it.
type workerPeers struct {
	cache  *local.BlobCache
	origin *peerWait
	ln     net.Listener
	tls    *tls.Config // nil over plain HTTP
	log    *slog.Logger
	server atomic.Pointer[remote.PeerServer] // once serving
}

// newWorkerPeers listens for peers next to the worker's own listener
// (the host of listen, a port of its own unless peerListen says) and
// makes the cache under dir.
func newWorkerPeers(dir, listen, peerListen string, maxBytes int64, driver *remote.Repository, cert *tls.Certificate, pin string, log *slog.Logger) (*workerPeers, error) {
	if peerListen == "" {
		host, _, err := net.SplitHostPort(listen)
		if err != nil {
			return nil, fmt.Errorf("-listen %q: %v: %w", listen, err, errUsage)
		}
		peerListen = net.JoinHostPort(host, "0")
	}
	ln, err := net.Listen("tcp", peerListen)
	if err != nil {
		return nil, fmt.Errorf("-peer-listen: %w", err)
	}
	wp := &workerPeers{ln: ln, log: log}
	if cert != nil {
		wp.tls = &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
	}
	self := remote.Holder(advertised(ln.Addr(), cert != nil), pin)
	wp.origin = &peerWait{driver: driver, self: self, ready: make(chan struct{})}
	wp.cache, err = local.NewBlobCache(local.BlobCacheConfig{Dir: dir, MaxBytes: maxBytes, Origin: wp.origin})
	if err != nil {
		ln.Close()
		return nil, err
	}
	wp.origin.cache = wp.cache
	return wp, nil
}

// serve hands over the peer token (empty: the driver runs no peer
// transfers, and the worker stages through it alone) and serves the
// cache to peers with it until ctx is done. It closes the listener.
func (wp *workerPeers) serve(ctx context.Context, token string) error {
	var ps *remote.PeerServer
	var err error
	if token != "" {
		ps, err = remote.NewPeerServer(remote.PeerServerConfig{Blobs: wp.cache, Token: token, Logger: wp.log})
	}
	if err == nil && token != "" {
		err = wp.origin.handOver(token)
	}
	if err != nil || token == "" {
		wp.origin.handOver("")
		wp.ln.Close()
		return err
	}
	wp.server.Store(ps)
	wp.log.Info("serving blobs to peers", "url", wp.origin.self)
	return ps.Serve(ctx, wp.ln, wp.tls)
}

// logStats logs what the cache fetched and the peer server sent.
func (wp *workerPeers) logStats() {
	st := wp.cache.Stats()
	var sent remote.PeerServerStats
	if ps := wp.server.Load(); ps != nil {
		sent = ps.Stats()
	}
	wp.log.Info("blob cache", "hits", st.Hits, "misses", st.Misses, "fetched_bytes", st.FetchedBytes,
		"kept_bytes", st.KeptBytes, "cached_bytes", st.CachedBytes,
		"evicted", st.Evicted, "sent_to_peers_bytes", sent.Bytes)
}

// peerWait is the origin of a worker's blob cache: a remote.PeerOrigin
// once the peer token has come, the driver alone if none comes. Its
// calls wait for the hand-over. It is safe for concurrent use: peer and
// noPeers are set once, before ready closes.
type peerWait struct {
	driver *remote.Repository
	self   string
	cache  *local.BlobCache // the cache this is the origin of

	once  sync.Once
	ready chan struct{}
	peer  *remote.PeerOrigin // nil: no peer transfers
	peers *remote.Peers
}

var _ local.Holder = (*peerWait)(nil)

// handOver sets the peer token (empty: none) and wakes the waiting
// calls. Only the first hand-over counts.
func (o *peerWait) handOver(token string) error {
	var err error
	o.once.Do(func() {
		defer close(o.ready)
		if token == "" {
			return
		}
		if o.peers, err = remote.NewPeers(remote.PeersConfig{Token: token}); err != nil {
			return
		}
		o.peer, err = remote.NewPeerOrigin(o.driver, o.peers, o.self)
	})
	return err
}

func (o *peerWait) wait(ctx context.Context) (*remote.PeerOrigin, error) {
	select {
	case <-o.ready:
		return o.peer, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Get opens blob d from a peer that holds it, or from the driver.
func (o *peerWait) Get(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
	rc, _, err := o.GetFrom(ctx, d)
	return rc, err
}

// GetFrom is Get, saying where the blob comes from (local.Sourced).
func (o *peerWait) GetFrom(ctx context.Context, d digest.Digest) (io.ReadCloser, string, error) {
	p, err := o.wait(ctx)
	if err != nil {
		return nil, "", err
	}
	if p == nil {
		rc, err := o.driver.Get(ctx, d)
		return rc, pool.WhereDriver, err
	}
	return p.GetFrom(ctx, d)
}

// PutWhere says where the blobs put into the origin go (local.Placer).
func (o *peerWait) PutWhere() string { return pool.WhereDriver }

// HoldWhere says where the blobs the cache keeps end up: in the cache,
// or in the driver's repository too when no peer token came (Hold then
// stores them there).
func (o *peerWait) HoldWhere() string {
	select {
	case <-o.ready:
		if o.peer == nil {
			return pool.WhereDriver
		}
	default:
	}
	return pool.WhereCache
}

// Put stores r in the driver's repository.
func (o *peerWait) Put(ctx context.Context, r io.Reader) (digest.Digest, error) {
	return o.driver.Put(ctx, r)
}

// Hold tells the driver that this worker keeps blob d; without peer
// transfers it stores the blob there instead, from the cache.
func (o *peerWait) Hold(ctx context.Context, d digest.Digest, size int64) error {
	p, err := o.wait(ctx)
	if err != nil {
		return err
	}
	if p != nil {
		return p.Hold(ctx, d, size)
	}
	rc, err := o.cache.Local(ctx, d)
	if err != nil {
		return err
	}
	defer rc.Close()
	got, err := o.driver.Put(ctx, rc)
	if err == nil && got != d {
		err = fmt.Errorf("storing blob %s in the driver's repository: it got %s", d, got)
	}
	return err
}

// close closes the connections to peers.
func (o *peerWait) close() {
	select {
	case <-o.ready:
		if o.peers != nil {
			o.peers.Close()
		}
	default:
	}
}
