package kubetest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/ebbflow/ebb/internal/kubetest"
	"github.com/ebbflow/ebb/pool/remote"
)

// podTimeout bounds each test's wait for its pod.
const podTimeout = 2 * time.Minute

// workerPod is a pod of the worker image running ebb with args, in this
// machine's network namespace.
func workerPod(c *kubetest.Cluster, prefix string, args ...string) *corev1.Pod {
	grace := int64(5)
	noToken := false
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: prefix,
			Namespace:    c.Namespace,
			Labels:       map[string]string{"app.kubernetes.io/name": "ebb-kubetest"},
		},
		Spec: corev1.PodSpec{
			HostNetwork:                   true,
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: &grace,
			AutomountServiceAccountToken:  &noToken,
			Containers: []corev1.Container{{
				Name:            "ebb",
				Image:           c.Image,
				ImagePullPolicy: corev1.PullNever,
				Args:            args,
			}},
		},
	}
}

// watchPod follows the pod name from resource version rv until done says
// so for an event, and returns that event's pod.
func watchPod(ctx context.Context, cs kubernetes.Interface, ns, name, rv string, done func(watch.EventType, *corev1.Pod) bool) (*corev1.Pod, error) {
	for {
		w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", name).String(),
			ResourceVersion: rv,
		})
		if err != nil {
			return nil, err
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				w.Stop()
				return nil, apierrors.FromObject(ev.Object)
			}
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			rv = pod.ResourceVersion
			if done(ev.Type, pod) {
				w.Stop()
				return pod, nil
			}
		}
		w.Stop()
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("pod %s: %w", name, err)
		}
	}
}

// deleteAndCheck deletes the pod and waits until the API server has
// removed it, which it does once the kubelet has stopped its containers;
// then it checks that no pod of these tests is left.
func deleteAndCheck(t *testing.T, cs kubernetes.Interface, pod *corev1.Pod) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), podTimeout)
	defer cancel()
	cur, err := cs.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return
	}
	if err != nil {
		t.Fatalf("get pod %s: %v", pod.Name, err)
	}
	start := time.Now()
	if err := cs.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("delete pod %s: %v", pod.Name, err)
	}
	if _, err := watchPod(ctx, cs, pod.Namespace, pod.Name, cur.ResourceVersion, func(ev watch.EventType, _ *corev1.Pod) bool {
		return ev == watch.Deleted
	}); err != nil {
		t.Fatalf("waiting for pod %s to go: %v", pod.Name, err)
	}
	t.Logf("pod %s: delete to gone %v", pod.Name, time.Since(start).Round(time.Millisecond))
	left, err := cs.CoreV1().Pods(pod.Namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", pod.Name).String(),
	})
	if err != nil {
		t.Fatalf("list pods: %v", err)
	}
	if len(left.Items) != 0 {
		t.Errorf("pod %s still listed after its deletion: %+v", pod.Name, left.Items[0].Status)
	}
}

// TestSmoke runs "ebb help" in a pod of the worker image, sees the pod
// Succeeded with its output in the pod's log, and deletes it.
func TestSmoke(t *testing.T) {
	c := kubetest.Get(t)
	cs := c.Client(t)
	ctx, cancel := context.WithTimeout(t.Context(), podTimeout)
	defer cancel()

	start := time.Now()
	pod, err := cs.CoreV1().Pods(c.Namespace).Create(ctx, workerPod(c, "ebb-smoke-", "help"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod: %v", err)
	}
	t.Cleanup(func() { deleteAndCheck(t, cs, pod) })
	end, err := watchPod(ctx, cs, c.Namespace, pod.Name, pod.ResourceVersion, func(_ watch.EventType, p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	})
	if err != nil {
		t.Fatalf("waiting for pod %s to end: %v", pod.Name, err)
	}
	t.Logf("pod %s: create to %s %v", pod.Name, end.Status.Phase, time.Since(start).Round(time.Millisecond))
	if end.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("pod %s ended %s: %+v", pod.Name, end.Status.Phase, end.Status.ContainerStatuses)
	}
	logs, err := cs.CoreV1().Pods(c.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatalf("logs of pod %s: %v", pod.Name, err)
	}
	if !strings.Contains(string(logs), "worker") {
		t.Errorf("logs of pod %s, running ebb help, do not list the worker command:\n%s", pod.Name, logs)
	}
}

// TestWorkerReachesHost runs "ebb worker" in a hostNetwork pod announcing
// itself to a driver listening on this machine's 127.0.0.1, as ebb's
// Kubernetes provider does, and checks that the announcement arrives and
// that the worker answers at the address it announced.
func TestWorkerReachesHost(t *testing.T) {
	c := kubetest.Get(t)
	cs := c.Client(t)
	ctx, cancel := context.WithTimeout(t.Context(), podTimeout)
	defer cancel()

	// At least 16 characters, or the worker refuses it and exits.
	const token = "kubetest-token-0123456789"
	announced := make(chan remote.Announcement, 16)
	driver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a remote.Announcement
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/workers") ||
			json.NewDecoder(r.Body).Decode(&a) != nil {
			http.Error(w, "not an announcement", http.StatusBadRequest)
			return
		}
		select {
		case announced <- a:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer driver.Close()

	start := time.Now()
	pod, err := cs.CoreV1().Pods(c.Namespace).Create(ctx, workerPod(c, "ebb-worker-",
		"worker", "-listen", "127.0.0.1:0", "-id", "kubetest", "-no-tls", "-token", token,
		"-driver", driver.URL, "-lease-timeout", "2m"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod: %v", err)
	}
	t.Cleanup(func() { deleteAndCheck(t, cs, pod) })
	if _, err := watchPod(ctx, cs, c.Namespace, pod.Name, pod.ResourceVersion, func(_ watch.EventType, p *corev1.Pod) bool {
		return p.Status.Phase != corev1.PodPending
	}); err != nil {
		t.Fatalf("waiting for pod %s to run: %v", pod.Name, err)
	}
	t.Logf("pod %s: create to Running %v", pod.Name, time.Since(start).Round(time.Millisecond))

	// A worker that exits (a refused flag, an unreachable driver) ends
	// the pod: say so with its log instead of waiting out podTimeout.
	ended := make(chan *corev1.Pod, 1)
	go func() {
		p, err := watchPod(ctx, cs, c.Namespace, pod.Name, pod.ResourceVersion, func(_ watch.EventType, p *corev1.Pod) bool {
			return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
		})
		if err == nil {
			ended <- p
		}
	}()
	var a remote.Announcement
	select {
	case a = <-announced:
	case p := <-ended:
		logs, _ := cs.CoreV1().Pods(c.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
		t.Fatalf("pod %s ended %s before announcing itself at %s; its log:\n%s", pod.Name, p.Status.Phase, driver.URL, logs)
	case <-ctx.Done():
		t.Fatalf("no announcement from pod %s at %s: %v", pod.Name, driver.URL, ctx.Err())
	}
	t.Logf("pod %s: create to announced %v, at %s", pod.Name, time.Since(start).Round(time.Millisecond), a.URL)
	u, err := url.Parse(a.URL)
	if err != nil || u.Hostname() != "127.0.0.1" {
		t.Fatalf("announced URL %q: want http://127.0.0.1:PORT (err %v)", a.URL, err)
	}
	// Any HTTP answer shows the driver reaches the worker.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("the worker at its announced %s does not answer: %v", a.URL, err)
	}
	resp.Body.Close()
}
