package remote

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
)

// Fingerprint returns the pin of a certificate given in DER: "sha256:"
// and the hex SHA-256 of the bytes. A client whose ClientConfig.Pin holds
// it trusts exactly that certificate.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// validPin returns an error wrapping ebb.ErrInvalid unless pin is a
// Fingerprint.
func validPin(pin string) error {
	h, ok := strings.CutPrefix(pin, "sha256:")
	if _, err := hex.DecodeString(h); !ok || err != nil || len(h) != 2*sha256.Size {
		return fmt.Errorf("remote: pin %q: want sha256: and 64 hex digits: %w", pin, ebb.ErrInvalid)
	}
	return nil
}

// SelfSigned returns a new self-signed certificate for hosts (DNS names or
// IP addresses) with a fresh ECDSA P-256 key, valid from an hour before
// now for validFor. A worker that has no certificate of its own serves
// with one, and tells its pin (see Fingerprint) to whoever connects to it.
func SelfSigned(hosts []string, validFor time.Duration) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("remote: self-signed certificate: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("remote: self-signed certificate: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "ebb worker"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validFor),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("remote: self-signed certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("remote: self-signed certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// errPin is the error of a server certificate that does not match the
// pin.
var errPin = errors.New("server certificate does not match the pin")

// clientTLS returns the client's TLS configuration: base (or an empty
// one), and when pin is set, a check of the server's certificate against
// it in place of the usual chain and name verification.
func clientTLS(base *tls.Config, pin string) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if base != nil {
		cfg = base.Clone()
	}
	if pin == "" {
		return cfg
	}
	cfg.InsecureSkipVerify = true // replaced by the pin check below
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errPin
		}
		if got := Fingerprint(cs.PeerCertificates[0].Raw); got != pin {
			return fmt.Errorf("%w: got %s, want %s", errPin, got, pin)
		}
		return nil
	}
	return cfg
}

// tlsRefused reports whether err is a TLS failure that trying again would
// not mend: a certificate refused by either side.
func tlsRefused(err error) bool {
	var (
		alert   tls.AlertError
		verify  *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		op      *net.OpError
	)
	// A TLS alert from the peer (a client certificate it refused) comes
	// as an *net.OpError whose Op is "remote error".
	return errors.Is(err, errPin) || errors.As(err, &alert) || errors.As(err, &verify) ||
		errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid) ||
		errors.As(err, &op) && op.Op == "remote error"
}

// notTLS reports whether err says the server does not speak TLS: an
// https:// URL for a plain HTTP server. net/http replaces the TLS error
// with one of its own, which wraps nothing, hence the text.
func notTLS(err error) bool {
	var record tls.RecordHeaderError
	return errors.As(err, &record) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}
