package kubetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ebbflow/ebb/internal/proctest"
)

// The variables scripts/kube-test-cluster env prints, and the one that
// turns a skip into a failure.
const (
	// KubeconfigEnv names the admin kubeconfig of the test cluster.
	KubeconfigEnv = "EBB_KUBECONFIG"
	// ImageEnv names the worker image.
	ImageEnv = "EBB_KUBE_WORKER_IMAGE"
	// NamespaceEnv names the namespace tests run pods in.
	NamespaceEnv = "EBB_KUBE_NAMESPACE"
	// RequiredEnv set to 1 makes Get fail the test instead of skipping
	// it when there is no cluster.
	RequiredEnv = "EBB_KUBE_REQUIRED"
)

// The script's defaults, used when the variables are unset.
const (
	DefaultKubeconfig = "/var/lib/ebb-kube-test/admin.kubeconfig"
	DefaultImage      = "ebb.test/worker:latest"
	DefaultNamespace  = "default"
)

// readyTimeout bounds the readiness check of Get.
const readyTimeout = 10 * time.Second

// Cluster is the test cluster, as Get found it. Its fields are not
// changed after Get returns; it is safe for concurrent use.
type Cluster struct {
	// Kubeconfig is the path of the admin kubeconfig.
	Kubeconfig string
	// Image is the worker image: /usr/local/bin/ebb (static, built from
	// the checkout) as its entrypoint and on PATH. Pods must use
	// imagePullPolicy: Never.
	Image string
	// Namespace is where tests create their pods; its default
	// ServiceAccount exists.
	Namespace string

	config *rest.Config
}

// Config returns a fresh copy of the cluster's rest.Config, which the
// caller owns: the admin user (system:masters), who passes every RBAC
// check.
func (c *Cluster) Config() *rest.Config { return rest.CopyConfig(c.config) }

// Client returns a new clientset for Config.
func (c *Cluster) Client(t testing.TB) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(c.Config())
	if err != nil {
		t.Fatalf("kubetest: clientset: %v", err)
	}
	return cs
}

// Get returns the test cluster once its API server answers ready. When
// there is none (no kubeconfig, or the server does not answer) it skips t,
// saying how to start one; with EBB_KUBE_REQUIRED=1 it fails t instead.
// t holds the cluster until it ends (see proctest.Hold): the node is
// small, and the tests of several packages would starve each other's
// pods of its cpus.
func Get(t testing.TB) *Cluster {
	t.Helper()
	c, err := find(context.Background())
	if err != nil {
		msg := fmt.Sprintf("no Kubernetes test cluster: %v (start one with: sudo scripts/kube-test-cluster up)", err)
		if os.Getenv(RequiredEnv) == "1" {
			t.Fatalf("%s; %s=1", msg, RequiredEnv)
		}
		t.Skipf("%s; set %s=1 to fail instead", msg, RequiredEnv)
	}
	proctest.Hold(t, "ebb-kubetest.lock")
	return c
}

// errNotReady is what find returns for a server that answers, but not
// ok to /readyz.
var errNotReady = errors.New("API server not ready")

// find loads the kubeconfig and checks the API server's /readyz.
func find(ctx context.Context) (*Cluster, error) {
	c := &Cluster{
		Kubeconfig: envOr(KubeconfigEnv, DefaultKubeconfig),
		Image:      envOr(ImageEnv, DefaultImage),
		Namespace:  envOr(NamespaceEnv, DefaultNamespace),
	}
	if _, err := os.Stat(c.Kubeconfig); err != nil {
		return nil, err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", c.Kubeconfig, err)
	}
	c.config = cfg
	cs, err := kubernetes.NewForConfig(rest.CopyConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", c.Kubeconfig, err)
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s (from %s): %w", cfg.Host, c.Kubeconfig, err)
	}
	if string(body) != "ok" {
		return nil, fmt.Errorf("%s: %w: %s", cfg.Host, errNotReady, body)
	}
	return c, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
