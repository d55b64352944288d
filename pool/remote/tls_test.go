package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
)

// serveOn serves s with tlsCfg on a loopback listener through
// Server.Serve until t ends, and returns its https URL.
func serveOn(t *testing.T, s *Server, tlsCfg *tls.Config) string {
	t.Helper()
	url, _ := serveCounting(t, s, tlsCfg)
	return url
}

// serveCounting is serveOn, over plain HTTP when tlsCfg is nil, and
// counts the connections the server accepts: a call that is not retried
// makes one.
func serveCounting(t *testing.T, s *Server, tlsCfg *tls.Config) (string, *atomic.Int32) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &countingListener{Listener: inner}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, tlsCfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	if tlsCfg == nil {
		return "http://" + ln.Addr().String(), &ln.accepted
	}
	return "https://" + ln.Addr().String(), &ln.accepted
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	accepted atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

func selfSigned(t *testing.T, hosts ...string) tls.Certificate {
	t.Helper()
	cert, err := SelfSigned(hosts, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestPinned checks that a client pinned to the server's certificate
// connects, and that a client pinned to another, or verifying with the
// system's roots, is refused at once with ErrAuth.
func TestPinned(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cert := selfSigned(t, "127.0.0.1")
	s := newServer(t, ServerConfig{Pool: memPool(t)})
	url, conns := serveCounting(t, s, s.TLSConfig(cert))
	pin := Fingerprint(cert.Certificate[0])

	c := dial(t, ClientConfig{URL: url, Token: testToken, Pin: pin})
	if _, err := c.Capacity(ctx); err != nil {
		t.Errorf("Capacity through a pinned connection: %v", err)
	}

	other := Fingerprint(selfSigned(t, "127.0.0.1").Certificate[0])
	for name, cfg := range map[string]ClientConfig{
		"wrong pin":    {URL: url, Token: testToken, Pin: other},
		"system roots": {URL: url, Token: testToken},
	} {
		before := conns.Load()
		_, err := Dial(ctx, cfg)
		if !errors.Is(err, ErrAuth) {
			t.Errorf("%s: Dial: %v, want ErrAuth", name, err)
		}
		if n := conns.Load() - before; n != 1 {
			t.Errorf("%s: Dial made %d connections: a refused certificate must not be retried", name, n)
		}
	}
	if _, err := newClient(ClientConfig{URL: url, Token: testToken, Pin: "sha256:abc"}); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("a malformed pin: %v, want ebb.ErrInvalid", err)
	}
}

// TestMutualTLS checks a server that requires client certificates: a
// client presenting one it trusts connects; one presenting none, or one
// signed by nobody it trusts, is refused with ErrAuth.
func TestMutualTLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	serverCert := selfSigned(t, "127.0.0.1")
	clientCert := selfSigned(t, "driver")
	cas := x509.NewCertPool()
	cas.AddCert(clientCert.Leaf)
	s := newServer(t, ServerConfig{Pool: memPool(t), ClientCAs: cas})
	url, conns := serveCounting(t, s, s.TLSConfig(serverCert))
	pin := Fingerprint(serverCert.Certificate[0])

	trusted := &tls.Config{Certificates: []tls.Certificate{clientCert}}
	c := dial(t, ClientConfig{URL: url, Token: testToken, Pin: pin, TLS: trusted})
	if _, err := c.Offers(ctx); err != nil {
		t.Errorf("Offers with a trusted client certificate: %v", err)
	}

	stranger := &tls.Config{Certificates: []tls.Certificate{selfSigned(t, "stranger")}}
	for name, base := range map[string]*tls.Config{"no certificate": nil, "untrusted certificate": stranger} {
		before := conns.Load()
		_, err := Dial(ctx, ClientConfig{URL: url, Token: testToken, Pin: pin, TLS: base})
		if !errors.Is(err, ErrAuth) {
			t.Errorf("%s: Dial: %v, want ErrAuth", name, err)
		}
		if n := conns.Load() - before; n != 1 {
			t.Errorf("%s: Dial made %d connections: a refused certificate must not be retried", name, n)
		}
	}
	// Plain HTTP to a server that requires client certificates is
	// refused too.
	if _, err := Dial(ctx, serveHTTP(t, s)); !errors.Is(err, ErrAuth) {
		t.Errorf("plain HTTP to a server requiring client certificates: %v, want ErrAuth", err)
	}
}

// TestPlainToTLS checks that a client speaking plain HTTP to a TLS
// server, or TLS to a plain HTTP one, fails with ebb.ErrInvalid at once,
// not after retries.
func TestPlainToTLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := newServer(t, ServerConfig{Pool: memPool(t)})
	url, tlsConns := serveCounting(t, s, s.TLSConfig(selfSigned(t, "127.0.0.1")))
	plain, plainConns := serveCounting(t, s, nil)
	for name, c := range map[string]struct {
		url   string
		conns *atomic.Int32
	}{
		"plain to TLS": {strings.Replace(url, "https", "http", 1), tlsConns},
		"TLS to plain": {strings.Replace(plain, "http", "https", 1), plainConns},
	} {
		before := c.conns.Load()
		_, err := Dial(ctx, ClientConfig{URL: c.url, Token: testToken})
		if !errors.Is(err, ebb.ErrInvalid) || errors.Is(err, ErrAuth) {
			t.Errorf("%s: %v, want ebb.ErrInvalid (not ErrAuth)", name, err)
		}
		if n := c.conns.Load() - before; n != 1 {
			t.Errorf("%s: Dial made %d connections, want one: no retries", name, n)
		}
	}
}

// TestListeningLine checks that ParseListening reads what ListeningLine
// writes, and nothing else.
func TestListeningLine(t *testing.T) {
	pin := Fingerprint([]byte("cert"))
	for _, c := range []struct{ url, pin string }{{"http://127.0.0.1:1", ""}, {"https://h:2", pin}} {
		u, p, ok := ParseListening(ListeningLine(c.url, c.pin) + "\n")
		if !ok || u != c.url || p != c.pin {
			t.Errorf("ParseListening(ListeningLine(%q, %q)) = %q, %q, %v", c.url, c.pin, u, p, ok)
		}
	}
	for _, line := range []string{"", "ebb worker listening on", "listening on http://x", "ebb worker listening on https://h:2 pin nope", "ebb worker listening on a b"} {
		if _, _, ok := ParseListening(line); ok {
			t.Errorf("ParseListening(%q) ok, want not a listening line", line)
		}
	}
}

// TestPinOverPlainHTTP checks that a client given a pin or TLS settings
// refuses an http:// URL before connecting: the token would otherwise go
// in clear to a server nobody checked.
func TestPinOverPlainHTTP(t *testing.T) {
	s := newServer(t, ServerConfig{Pool: memPool(t)})
	plain, conns := serveCounting(t, s, nil)
	pin := Fingerprint(selfSigned(t, "127.0.0.1").Certificate[0])
	for name, cfg := range map[string]ClientConfig{
		"Pin": {URL: plain, Token: testToken, Pin: pin},
		"TLS": {URL: plain, Token: testToken, TLS: &tls.Config{MinVersion: tls.VersionTLS13}},
	} {
		_, err := Dial(t.Context(), cfg)
		if !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), plain) || !strings.Contains(err.Error(), "ClientConfig."+name) {
			t.Errorf("%s: Dial = %v, want ErrInvalid naming the URL and the field", name, err)
		}
		if _, err := NewRepository(cfg); !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("%s: NewRepository = %v, want ErrInvalid", name, err)
		}
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("%d connections made, want none", n)
	}
}
