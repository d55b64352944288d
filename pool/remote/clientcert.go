package remote

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"sync"
	"time"
)

// maxVerified bounds how many client certificates a server remembers as
// verified; past it, it forgets them all and verifies again.
const maxVerified = 1024

// clientCerts checks the client certificates of requests against a pool
// of CAs. The check is made per request, in ServeHTTP, rather than in the
// TLS handshake: a handshake that fails closes the connection with the
// client's request unread, and the client may see a reset instead of the
// refusal, which looks transient and is retried. A refusal in ServeHTTP
// is a clean 401. A certificate that verified is remembered until it
// expires, so each is verified once.
//
// mu guards ok.
type clientCerts struct {
	cas *x509.CertPool

	mu sync.Mutex
	ok map[[sha256.Size]byte]time.Time // verified certificates and their NotAfter
}

// check reports whether r came over TLS with a client certificate that
// verifies against the CAs, for client authentication.
func (c *clientCerts) check(r *http.Request) bool {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return false
	}
	leaf := r.TLS.PeerCertificates[0]
	key := sha256.Sum256(leaf.Raw)
	now := time.Now()
	c.mu.Lock()
	until, known := c.ok[key]
	c.mu.Unlock()
	if known && now.Before(until) {
		return true
	}
	inter := x509.NewCertPool()
	for _, cert := range r.TLS.PeerCertificates[1:] {
		inter.AddCert(cert)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         c.cas,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return false
	}
	c.mu.Lock()
	if c.ok == nil || len(c.ok) >= maxVerified {
		c.ok = make(map[[sha256.Size]byte]time.Time)
	}
	c.ok[key] = leaf.NotAfter
	c.mu.Unlock()
	return true
}

// TLSConfig returns the TLS configuration to serve s with (see Serve),
// presenting cert. When ServerConfig.ClientCAs is set, it asks clients
// for their certificates, which ServeHTTP checks. TLS 1.2 is the oldest
// version served.
func (s *Server) TLSConfig(cert tls.Certificate) *tls.Config {
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}
	if s.cfg.ClientCAs != nil {
		cfg.ClientCAs = s.cfg.ClientCAs // names the CAs to the clients
		cfg.ClientAuth = tls.RequestClientCert
	}
	return cfg
}
