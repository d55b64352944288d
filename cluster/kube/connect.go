package kube

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ebbflow/ebb"
)

// inClusterNamespace is where a pod finds its namespace.
const inClusterNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// Connect returns a client of the API server and the namespace to work
// in. It reads the kubeconfig file at path, or when path is empty the
// files of $KUBECONFIG, or ~/.kube/config, and takes the current
// context's server, credentials and namespace. When there is no
// kubeconfig and this process runs in a pod, it uses the pod's
// ServiceAccount (rest.InClusterConfig) and the pod's namespace. The
// namespace is "" when neither says one. Connect calls no server; it
// fails with an error wrapping ebb.ErrInvalid when a kubeconfig is
// malformed, or when there is none and this is no pod.
func Connect(path string) (kubernetes.Interface, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path != "" {
		rules.ExplicitPath = path
	}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	raw, err := loader.RawConfig()
	if err != nil {
		return nil, "", fmt.Errorf("kube: reading the kubeconfig: %v: %w", err, ebb.ErrInvalid)
	}
	var (
		cfg *rest.Config
		ns  string
	)
	if path == "" && len(raw.Contexts) == 0 && len(raw.Clusters) == 0 {
		// No kubeconfig: a driver in a pod.
		if cfg, err = rest.InClusterConfig(); err != nil {
			if errors.Is(err, rest.ErrNotInCluster) {
				return nil, "", fmt.Errorf("kube: no kubeconfig ($KUBECONFIG, ~/.kube/config) and not in a pod: %w", ebb.ErrInvalid)
			}
			return nil, "", fmt.Errorf("kube: in-cluster config: %v: %w", err, ebb.ErrInvalid)
		}
		if b, err := os.ReadFile(inClusterNamespace); err == nil {
			ns = strings.TrimSpace(string(b))
		}
	} else {
		if cfg, err = loader.ClientConfig(); err != nil {
			return nil, "", fmt.Errorf("kube: kubeconfig: %v: %w", err, ebb.ErrInvalid)
		}
		if n, explicit, err := loader.Namespace(); err == nil && explicit {
			ns = n
		}
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("kube: client: %v: %w", err, ebb.ErrInvalid)
	}
	return client, ns, nil
}
