package main

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ebbflow/ebb/internal/kubetest"
	"github.com/ebbflow/ebb/internal/proctest"
)

// As Kubernetes pods, the quickstart gets the same result, and
// afterwards no pod or Secret of its is left.
func TestQuickstartOnKube(t *testing.T) {
	c := kubetest.Get(t)
	t.Setenv("EBB_KUBECONFIG", c.Kubeconfig)
	t.Setenv("EBB_KUBE_WORKER_IMAGE", c.Image)
	t.Setenv("EBB_KUBE_NAMESPACE", c.Namespace)
	onLocal := capture(t, func() error { return run(t.Context(), options{dir: t.TempDir(), parts: 6, aux: "local"}) })
	onKube := capture(t, func() error {
		return run(t.Context(), options{dir: t.TempDir(), parts: 6, work: 3 * time.Second, aux: "kube"})
	})
	for _, want := range []string{"auxiliary allocs from Kubernetes pods", "8 tasks: 8 run, 0 found in the cache", "granted alloc"} {
		if !strings.Contains(onKube, want) {
			t.Errorf("the run on Kubernetes does not say %q:\n%s", want, onKube)
		}
	}
	if a, b := topWords(onLocal), topWords(onKube); a == "" || a != b {
		t.Errorf("the results differ:\nlocal pool:\n%s\nKubernetes:\n%s", a, b)
	}
	client := c.Client(t)
	sel := metav1.ListOptions{LabelSelector: "ebbflow.io/provider=quickstart"}
	var left int
	if !proctest.Eventually(30*time.Second, func() bool {
		pods, err1 := client.CoreV1().Pods(c.Namespace).List(context.Background(), sel)
		secrets, err2 := client.CoreV1().Secrets(c.Namespace).List(context.Background(), sel)
		if err1 != nil || err2 != nil {
			return false
		}
		left = len(pods.Items) + len(secrets.Items)
		return left == 0
	}) {
		t.Errorf("%d pods and Secrets of the quickstart left after it ended", left)
	}
}
