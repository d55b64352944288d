package remote

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository"
	"github.com/opencontainers/go-digest"
)

// Holder returns how a worker whose PeerServer is at peerURL, with the
// certificate of pin (empty over http://), is named as a blob's holder:
// the URL, then a space and the pin if any. A space never occurs in a
// URL, so the name splits back without doubt.
func Holder(peerURL, pin string) string {
	if pin == "" {
		return peerURL
	}
	return peerURL + " " + pin
}

// splitHolder undoes Holder, checking both parts.
func splitHolder(holder string) (string, string, error) {
	u, pin, _ := strings.Cut(holder, " ")
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return "", "", fmt.Errorf("remote: holder %q: want a peer URL, and its pin after a space: %w", holder, ebb.ErrInvalid)
	}
	if pin != "" {
		if err := validPin(pin); err != nil {
			return "", "", err
		}
	}
	return u, pin, nil
}

// PeersConfig configures Peers.
type PeersConfig struct {
	// Token is the run's peer token (see PeerServerConfig.Token).
	Token string
	// TLS, when set, is the base TLS configuration for https peers; a
	// holder's pin is checked in any case.
	TLS *tls.Config
	// Timeout bounds each attempt's wait for headers and the retries of
	// a peer that does not answer; zero means DefaultTimeout.
	Timeout time.Duration
	// Transport, when set, carries every request (tests: InProcess).
	Transport http.RoundTripper
}

// Peers fetches blobs from the workers that hold them, each over a
// Client of its own, made on first use and kept. It implements
// repository.Peers. It is safe for concurrent use; mu guards clients.
type Peers struct {
	cfg PeersConfig

	mu      sync.Mutex
	clients map[string]*Client
}

var _ repository.Peers = (*Peers)(nil)

// NewPeers returns Peers for cfg, without calling anyone. It fails with
// ebb.ErrInvalid when the token is malformed.
func NewPeers(cfg PeersConfig) (*Peers, error) {
	if err := validToken("PeersConfig.Token", cfg.Token); err != nil {
		return nil, err
	}
	return &Peers{cfg: cfg, clients: make(map[string]*Client)}, nil
}

func (p *Peers) client(holder string) (*Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[holder]; ok {
		return c, nil
	}
	u, pin, err := splitHolder(holder)
	if err != nil {
		return nil, err
	}
	c, err := newClient(ClientConfig{URL: u, Pin: pin, Token: p.cfg.Token, TLS: p.cfg.TLS, Timeout: p.cfg.Timeout, Transport: p.cfg.Transport})
	if err != nil {
		return nil, err
	}
	// A worker's peer server that refuses connections has stopped: its
	// address is not served again, so a blob it held is asked of no
	// one else for Timeout's retries (Located then forgets the holder).
	c.refusedIsGone = true
	p.clients[holder] = c
	return c, nil
}

// Open opens blob d at holder. The reader checks the content against d
// and fails at its end with ebb.ErrCorrupt if they differ. The caller
// closes it.
func (p *Peers) Open(ctx context.Context, holder string, d digest.Digest) (io.ReadCloser, error) {
	op := "get blob " + string(d) + " from peer"
	if err := checkDigest(op, d); err != nil {
		return nil, err
	}
	c, err := p.client(holder)
	if err != nil {
		return nil, err
	}
	req := &request{op: op, method: "GET", path: peerPrefix + "/blobs/" + url.PathEscape(string(d)), stream: true}
	if err := c.do(ctx, req); err != nil {
		return nil, err
	}
	body := &streamReader{op: op, resp: req.resp, cancel: req.cancel}
	return &verifier{rc: body, want: d, h: digest.SHA256.Hash()}, nil
}

// Stat asks holder whether it holds blob d, and its size; it fails with
// ebb.ErrNotExist when the holder answers that it does not, and with
// ebb.ErrUnavailable when it does not answer within Timeout, or at once
// when its address refuses the connection (no server listens there).
func (p *Peers) Stat(ctx context.Context, holder string, d digest.Digest) (repository.Info, error) {
	op := "stat blob " + string(d) + " at peer"
	if err := checkDigest(op, d); err != nil {
		return repository.Info{}, err
	}
	c, err := p.client(holder)
	if err != nil {
		return repository.Info{}, err
	}
	var info repository.Info
	err = c.do(ctx, &request{op: op, method: "GET", path: peerPrefix + "/blobs/" + url.PathEscape(string(d)) + "/stat", out: &info})
	return info, err
}

// Close closes the idle connections to every peer.
func (p *Peers) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.clients {
		c.Close()
	}
	return nil
}

// Hold tells the server that holder keeps blob d, of size bytes: a
// worker's output, which the server's repository (a repository.Located)
// then lists among the blob's holders instead of storing it.
func (r *Repository) Hold(ctx context.Context, d digest.Digest, size int64, holder string) error {
	op := "hold blob " + string(d)
	if err := checkDigest(op, d); err != nil {
		return err
	}
	in := holdersWire{Size: size, Holder: holder}
	return r.c.do(ctx, &request{op: op, method: "POST", path: blobPath(d) + "/holders", in: in})
}

// Holders asks the server which workers hold blob d, and its size; none
// when the server knows of none (it may have the blob itself).
func (r *Repository) Holders(ctx context.Context, d digest.Digest) ([]string, int64, error) {
	op := "holders of blob " + string(d)
	if err := checkDigest(op, d); err != nil {
		return nil, 0, err
	}
	var out holdersWire
	err := r.c.do(ctx, &request{op: op, method: "GET", path: blobPath(d) + "/holders", out: &out})
	return out.Holders, out.Size, err
}

// PeerOrigin is the origin of a worker's blob cache (local.BlobCache)
// when the driver's repository knows holders: a blob the worker lacks is
// fetched from a worker that holds it, directly, and from the driver only
// when no holder answers; a blob the worker makes (an output) stays with
// it, and the driver hears only that it is here. It implements
// pool.Repository and local.Holder, and is safe for concurrent use.
type PeerOrigin struct {
	driver *Repository
	peers  *Peers
	self   string
}

var _ pool.Repository = (*PeerOrigin)(nil)

// NewPeerOrigin returns the origin of a worker named self (see Holder)
// whose driver's repository is driver and whose peers are reached
// through peers.
func NewPeerOrigin(driver *Repository, peers *Peers, self string) (*PeerOrigin, error) {
	if _, _, err := splitHolder(self); err != nil {
		return nil, err
	}
	if driver == nil || peers == nil {
		return nil, fmt.Errorf("remote: NewPeerOrigin: driver and peers are required: %w", ebb.ErrInvalid)
	}
	return &PeerOrigin{driver: driver, peers: peers, self: self}, nil
}

// Get opens blob d from its first holder that answers, other than this
// worker, or from the driver's repository when none does. A driver that
// does not record holders (an older one, or a plain repository) is asked
// for the blob itself.
func (o *PeerOrigin) Get(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
	rc, _, err := o.GetFrom(ctx, d)
	return rc, err
}

// GetFrom is Get, saying where the blob comes from: pool.WherePeer or
// pool.WhereDriver (local.Sourced).
func (o *PeerOrigin) GetFrom(ctx context.Context, d digest.Digest) (io.ReadCloser, string, error) {
	holders, _, err := o.driver.Holders(ctx, d)
	if err != nil && !errors.Is(err, ebb.ErrInvalid) && !errors.Is(err, ebb.ErrNotExist) {
		return nil, "", err
	}
	for _, h := range holders {
		if h == o.self {
			continue
		}
		rc, err := o.peers.Open(ctx, h, d)
		if err == nil {
			return rc, pool.WherePeer, nil
		}
		if ctx.Err() != nil {
			return nil, "", err
		}
	}
	rc, err := o.driver.Get(ctx, d)
	return rc, pool.WhereDriver, err
}

// Put stores the content of r in the driver's repository.
func (o *PeerOrigin) Put(ctx context.Context, r io.Reader) (digest.Digest, error) {
	return o.driver.Put(ctx, r)
}

// Hold tells the driver that this worker keeps blob d.
func (o *PeerOrigin) Hold(ctx context.Context, d digest.Digest, size int64) error {
	return o.driver.Hold(ctx, d, size, o.self)
}

// PutWhere says where the blobs put into the origin go: the driver's
// repository (local.Placer).
func (o *PeerOrigin) PutWhere() string { return pool.WhereDriver }
