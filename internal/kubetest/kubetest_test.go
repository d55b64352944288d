package kubetest

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fakeServer serves /readyz with code and body over TLS (client-go sends
// no token to a plain http server), and writes a kubeconfig for it, named
// by EBB_KUBECONFIG for the rest of the test.
func fakeServer(t *testing.T, code int, body string) string {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" || r.Header.Get("Authorization") != "Bearer secret" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q, certificate-authority-data: %s}}]
users: [{name: u, user: {token: secret}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`, srv.URL, base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(KubeconfigEnv, path)
	return srv.URL
}

func TestFindReady(t *testing.T) {
	url := fakeServer(t, http.StatusOK, "ok")
	t.Setenv(ImageEnv, "example.test/w:1")
	t.Setenv(NamespaceEnv, "")
	c, err := find(context.Background())
	if err != nil {
		t.Fatalf("find: %v", err)
	}
	if c.Image != "example.test/w:1" || c.Namespace != DefaultNamespace || c.Kubeconfig != os.Getenv(KubeconfigEnv) {
		t.Errorf("find = %+v", c)
	}
	cfg := c.Config()
	if cfg.Host != url || cfg.BearerToken != "secret" {
		t.Errorf("Config() = host %q token %q, want %q and the kubeconfig's token", cfg.Host, cfg.BearerToken, url)
	}
	cfg.Host = "changed"
	if c.Config().Host != url {
		t.Errorf("changing a Config changed the Cluster's")
	}
}

func TestFindNotReady(t *testing.T) {
	fakeServer(t, http.StatusInternalServerError, "[-]etcd failed")
	if c, err := find(context.Background()); err == nil {
		t.Fatalf("find with /readyz failing = %+v, want an error", c)
	}
	fakeServer(t, http.StatusOK, "starting")
	if _, err := find(context.Background()); !errors.Is(err, errNotReady) {
		t.Fatalf("find with /readyz not ok: %v, want errNotReady", err)
	}
}

func TestFindNoKubeconfig(t *testing.T) {
	t.Setenv(KubeconfigEnv, filepath.Join(t.TempDir(), "absent"))
	if _, err := find(context.Background()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("find without a kubeconfig: %v, want fs.ErrNotExist", err)
	}
}

// recorder is a testing.TB whose Skipf and Fatalf are recorded and end
// the goroutine, as the real ones do.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// get runs Get(r) in its own goroutine, which Skipf and Fatalf end.
func get(t *testing.T) (*Cluster, *recorder) {
	r := &recorder{TB: t}
	var c *Cluster
	done := make(chan struct{})
	go func() {
		defer close(done)
		c = Get(r)
	}()
	<-done
	return c, r
}

func TestGetSkipsOrFails(t *testing.T) {
	t.Setenv(KubeconfigEnv, filepath.Join(t.TempDir(), "absent"))
	t.Setenv(RequiredEnv, "")
	c, r := get(t)
	if c != nil || r.failed != "" || !strings.Contains(r.skipped, "scripts/kube-test-cluster up") {
		t.Errorf("Get without a cluster: cluster %v, skipped %q, failed %q; want a skip saying how to start one", c, r.skipped, r.failed)
	}
	t.Setenv(RequiredEnv, "1")
	c, r = get(t)
	if c != nil || r.skipped != "" || !strings.Contains(r.failed, RequiredEnv+"=1") {
		t.Errorf("Get without a cluster, %s=1: cluster %v, skipped %q, failed %q; want a failure", RequiredEnv, c, r.skipped, r.failed)
	}
	fakeServer(t, http.StatusOK, "ok")
	c, r = get(t)
	if c == nil || r.skipped != "" || r.failed != "" {
		t.Errorf("Get with a ready cluster: cluster %v, skipped %q, failed %q", c, r.skipped, r.failed)
	}
}
