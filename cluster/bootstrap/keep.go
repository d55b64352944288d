package bootstrap

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ebbflow/ebb/internal/atomicfile"
)

// kept is what Config.Keep holds: the address the bootstrap listened at,
// and its certificate and key (PEM; empty with NoTLS).
type kept struct {
	Addr string `json:"addr"`
	Cert string `json:"cert,omitempty"`
	Key  string `json:"key,omitempty"`
}

// loadKept reads the kept file at path; nil when path is empty or there
// is none.
func loadKept(path string) (*kept, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var k kept
	if err := json.Unmarshal(b, &k); err != nil || k.Addr == "" {
		return nil, fmt.Errorf("bootstrap: %s: undecodable", path)
	}
	return &k, nil
}

// keep writes the kept file at path, mode 0600: the key is a secret.
func keep(path, addr string, cfg *tls.Config) error {
	k := kept{Addr: addr}
	if cfg != nil && len(cfg.Certificates) > 0 {
		c := cfg.Certificates[0]
		key, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
		if err != nil {
			return fmt.Errorf("bootstrap: keeping the certificate: %w", err)
		}
		k.Cert = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}))
		k.Key = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}))
	}
	b, err := json.Marshal(k)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("bootstrap: Config.Keep: %w", err)
	}
	if err := atomicfile.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("bootstrap: Config.Keep: %w", err)
	}
	return nil
}
