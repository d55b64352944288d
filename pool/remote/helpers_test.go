package remote

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/local"
	"github.com/ebbflow/ebb/pool/pooltest"
	"github.com/ebbflow/ebb/repository"
	"github.com/opencontainers/go-digest"
)

const testToken = "test-token-0123456789abcdef"

// memPool returns a memory pool that runs the pooltest builtins, closed
// when t ends.
func memPool(t testing.TB) *pooltest.Pool {
	p := pooltest.NewPool(pooltest.PoolConfig{
		Nodes: []ebb.Resources{{"cpu": 4, "mem": 8 << 30}, {"cpu": 2, "mem": 4 << 30}},
		Run:   pooltest.Builtins,
	})
	t.Cleanup(func() { p.Close() })
	return p
}

// localPool returns a local pool of 4 cpu and 8 GiB with a repository,
// closed when t ends.
func localPool(t testing.TB) (*local.Pool, *repository.Dir) {
	repo, err := repository.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, err := local.New(local.Config{
		Dir:        t.TempDir(),
		Resources:  ebb.Resources{"cpu": 4, "mem": 8 << 30},
		Repository: repo,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("closing the local pool: %v", err)
		}
	})
	return p, repo
}

// newServer returns a server of cfg with the test token.
func newServer(t testing.TB, cfg ServerConfig) *Server {
	t.Helper()
	if cfg.Token == "" {
		cfg.Token = testToken
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	return s
}

// serveTLS serves s (a Server, or a handler around one) on a loopback
// TLS listener until t ends, and returns a client config pinned to its
// certificate.
func serveTLS(t testing.TB, s http.Handler) ClientConfig {
	ts := httptest.NewUnstartedServer(s)
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ClientConfig{URL: ts.URL, Token: testToken, Pin: Fingerprint(ts.Certificate().Raw)}
}

// serveHTTP serves s (a Server, or a handler around one) on a loopback
// listener without TLS until t ends.
func serveHTTP(t testing.TB, s http.Handler) ClientConfig {
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ClientConfig{URL: ts.URL, Token: testToken}
}

// dial dials cfg and closes the client when t ends.
func dial(t testing.TB, cfg ClientConfig) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("Dial(%s): %v", cfg.URL, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dialInProcess returns a client of s through InProcess.
func dialInProcess(t testing.TB, s *Server) *Client {
	return dial(t, ClientConfig{URL: "http://in-process", Token: testToken, Transport: InProcess(s)})
}

func argv(args ...string) func() pool.ExecConfig {
	return func() pool.ExecConfig { return pool.ExecConfig{Argv: args} }
}

// memRepo is a repository in memory, with Stat.
type memRepo struct{ m *sync.Map }

func newMemRepo() memRepo { return memRepo{m: new(sync.Map)} }

func (r memRepo) Get(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
	b, ok := r.m.Load(d)
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", d, ebb.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(b.([]byte))), nil
}

func (r memRepo) Put(ctx context.Context, rd io.Reader) (digest.Digest, error) {
	b, err := io.ReadAll(rd)
	if err != nil {
		return "", err
	}
	d := digest.FromBytes(b)
	r.m.Store(d, b)
	return d, nil
}

func (r memRepo) Stat(ctx context.Context, d digest.Digest) (repository.Info, error) {
	b, ok := r.m.Load(d)
	if !ok {
		return repository.Info{}, fmt.Errorf("blob %s: %w", d, ebb.ErrNotExist)
	}
	return repository.Info{Digest: d, Size: int64(len(b.([]byte)))}, nil
}

type stringReader string

func (s stringReader) Read(p []byte) (int, error) { return copy(p, s), io.EOF }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// openWrite opens the fifo at path for writing without blocking, which
// succeeds once a reader has it open, and closes it at once.
func openWrite(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return false, err
	}
	return true, f.Close()
}

// loopback serves h on a real loopback listener until t ends and returns
// a transport whose every request goes there, whatever its URL's host.
func loopback(t testing.TB, h http.Handler) http.RoundTripper {
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", ts.Listener.Addr().String())
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}
