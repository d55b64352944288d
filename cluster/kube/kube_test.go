package kube

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opencontainers/go-digest"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/clustertest"
	"github.com/ebbflow/ebb/internal/kubetest"
	"github.com/ebbflow/ebb/internal/proctest"
	"github.com/ebbflow/ebb/pool"
)

// TestConformance runs the Provider conformance suite on workers that are
// pods of the test cluster.
func TestConformance(t *testing.T) {
	kubetest.Get(t)
	clustertest.RunProvider(t, clustertest.SuiteConfig{
		New:     func(t *testing.T) cluster.Provider { return newProvider(t, Config{}) },
		Timeout: 2 * time.Minute,
	})
}

// TestLaunchPod checks what a worker's pod and Secret carry: the
// provider's labels, the Launch's labels, the shape as requests and
// limits; the token in the Secret alone (not in the pod's spec or
// command line), the Secret owned by the pod, and once the worker is up
// the URL and pin it announced.
func TestLaunchPod(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	p := newProvider(t, Config{})
	w, err := p.Launch(ctx, p.Shapes()[0], ebb.Labels{"run": "r1", "flow": "word count"})
	if err != nil {
		t.Fatal(err)
	}
	core := p.cfg.Client.CoreV1()
	pod, err := core.Pods(p.cfg.Namespace).Get(ctx, string(w.ID), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sec, err := core.Secrets(p.cfg.Namespace).Get(ctx, string(w.ID), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Labels[LabelProvider] != p.cfg.Name || pod.Labels[LabelWorker] != string(w.ID) || pod.Labels[LabelShape] != "small" || sec.Labels[LabelProvider] != p.cfg.Name {
		t.Errorf("pod labels %v, Secret labels %v", pod.Labels, sec.Labels)
	}
	if l := podLabels(pod); l["run"] != "r1" || l["flow"] != "word count" {
		t.Errorf("the pod's labels annotation says %v", l)
	}
	c := pod.Spec.Containers[0]
	if q := c.Resources.Limits[corev1.ResourceCPU]; q.Cmp(resource.MustParse("500m")) != 0 || pod.Status.QOSClass != corev1.PodQOSGuaranteed {
		t.Errorf("cpu limit %s, QoS %s; want 500m, Guaranteed", q.String(), pod.Status.QOSClass)
	}
	token := string(sec.Data[SecretToken])
	spec, _ := json.Marshal(pod)
	if len(token) < 16 || strings.Contains(string(spec), token) {
		t.Errorf("the token (%d bytes) is in the pod's spec or status, or too short", len(token))
	}
	if len(sec.OwnerReferences) != 1 || sec.OwnerReferences[0].UID != pod.UID {
		t.Errorf("the Secret's owners %+v, want the pod %s", sec.OwnerReferences, pod.UID)
	}
	if !strings.HasPrefix(string(sec.Data[SecretURL]), "https://127.0.0.1:") || len(sec.Data[SecretPin]) == 0 {
		t.Errorf("the Secret's url %q and pin %q, want the worker's", sec.Data[SecretURL], sec.Data[SecretPin])
	}
	ws, err := p.Workers(ctx)
	if err != nil || len(ws) != 1 || ws[0].Labels["run"] != "r1" || ws[0].Shape.Name != "small" {
		t.Errorf("Workers = %+v, %v; want the small worker labelled run=r1", ws, err)
	}
}

// TestWorkerKilled kills a worker while an exec runs on it, by deleting
// its pod from outside (as kubectl delete does) and by killing its
// process in the container (as the OOM killer would): either way the
// exec's Wait fails (ErrExpired, or a result that is not OK: the kubelet
// kills the exec with its container), its alloc expires, and the worker
// leaves Workers.
func TestWorkerKilled(t *testing.T) {
	for _, tc := range []struct {
		name string
		kill func(t *testing.T, p *Provider, id cluster.WorkerID)
	}{
		{"deleted", func(t *testing.T, p *Provider, id cluster.WorkerID) {
			zero := int64(0)
			if err := p.cfg.Client.CoreV1().Pods(p.cfg.Namespace).Delete(t.Context(), string(id), metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
				t.Fatal(err)
			}
		}},
		{"process", func(t *testing.T, p *Provider, id cluster.WorkerID) {
			if !killWorker(id) {
				t.Fatalf("no worker process of %s on this machine", id)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			p := newProvider(t, Config{})
			w, err := p.Launch(ctx, p.Shapes()[0], nil)
			if err != nil {
				t.Fatal(err)
			}
			a, x := running(t, ctx, w)
			waited := wait(ctx, x)
			tc.kill(t, p, w.ID)
			select {
			case r := <-waited:
				if !errors.Is(r.err, ebb.ErrExpired) && (r.err != nil || r.res.OK()) {
					t.Errorf("Wait of an exec whose worker was killed: %+v, %v; want ErrExpired, or a result that is not OK", r.res, r.err)
				}
			case <-ctx.Done():
				t.Fatal("Wait of an exec whose worker was killed did not return")
			}
			if !proctest.Eventually(30*time.Second, func() bool {
				_, err := a.Keepalive(ctx, time.Minute)
				return errors.Is(err, ebb.ErrExpired)
			}) {
				t.Error("Keepalive of an alloc whose worker was killed does not fail with ErrExpired")
			}
			if !proctest.Eventually(30*time.Second, func() bool { ws, _ := p.Workers(ctx); return len(ws) == 0 }) {
				t.Error("Workers still lists the killed worker")
			}
			if err := p.Terminate(ctx, w.ID); err != nil {
				t.Errorf("Terminate of the killed worker: %v", err)
			}
		})
	}
}

// TestTerminateDrains terminates a worker running an exec: its pod is
// deleted with the grace that lets the worker drain, so the exec's Wait
// fails with ErrExpired (the worker reports it lost) and the pod is gone
// before the grace is out.
func TestTerminateDrains(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	p := newProvider(t, Config{TerminationGrace: 30 * time.Second})
	w, err := p.Launch(ctx, p.Shapes()[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	_, x := running(t, ctx, w)
	waited := wait(ctx, x)
	start := time.Now()
	if err := p.Terminate(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	if ws, _ := p.Workers(ctx); len(ws) != 0 {
		t.Errorf("Workers after Terminate = %v, want none", ws)
	}
	select {
	case r := <-waited:
		if !errors.Is(r.err, ebb.ErrExpired) {
			t.Errorf("Wait of an exec whose worker was terminated: %+v, %v; want ErrExpired", r.res, r.err)
		}
	case <-ctx.Done():
		t.Fatal("Wait did not return")
	}
	if !proctest.Eventually(time.Minute, func() bool {
		_, err := p.cfg.Client.CoreV1().Pods(p.cfg.Namespace).Get(ctx, string(w.ID), metav1.GetOptions{})
		return err != nil
	}) {
		t.Fatal("the terminated worker's pod is not gone")
	}
	if d := time.Since(start); d >= 30*time.Second {
		t.Errorf("the pod was gone %v after Terminate, want well within its grace of 30 s: the worker did not drain", d)
	}
	if err := p.Terminate(ctx, w.ID); err != nil {
		t.Errorf("second Terminate: %v", err)
	}
}

// TestUnschedulable launches a shape bigger than the node: its pod stays
// Pending (Unschedulable) until PendingTimeout, and Launch fails with
// ErrUnavailable saying why, leaving nothing.
func TestUnschedulable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	huge := cluster.Shape{Name: "huge", Resources: ebb.Resources{ebb.CPU: 64, ebb.Mem: 1 << 40}, Price: 1}
	p := newProvider(t, Config{Shapes: []cluster.Shape{huge}, PendingTimeout: 3 * time.Second})
	start := time.Now()
	_, err := p.Launch(ctx, huge, nil)
	if !errors.Is(err, ebb.ErrUnavailable) || !strings.Contains(err.Error(), "Unschedulable") {
		t.Errorf("Launch of a shape bigger than the node: %v, want ErrUnavailable, Unschedulable", err)
	}
	if d := time.Since(start); d < 3*time.Second || d > 30*time.Second {
		t.Errorf("Launch returned after %v, want soon after the PendingTimeout of 3 s", d)
	}
	noneLeft(t, p.cfg.Client, p.cfg.Namespace, p.cfg.Name)
	// A Launch whose context ends while its pod pends leaves nothing
	// either.
	lctx, lcancel := context.WithTimeout(ctx, time.Second)
	defer lcancel()
	if _, err := p.Launch(lctx, huge, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Launch whose context ends while its pod pends: %v, want the context's error", err)
	}
	noneLeft(t, p.cfg.Client, p.cfg.Namespace, p.cfg.Name)
}

// TestQuota launches in a namespace whose ResourceQuota leaves room for
// one small worker: the second Launch fails at once with ErrUnavailable
// naming the quota, and leaves nothing.
func TestQuota(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c := kubetest.Get(t)
	client := c.Client(t)
	ns := testNamespace(t, client)
	if _, err := client.CoreV1().ResourceQuotas(ns).Create(ctx, &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "ebb-test"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceLimitsCPU: resource.MustParse("700m")}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The quota controller fills in its status; until then it refuses
	// every pod.
	if !proctest.Eventually(30*time.Second, func() bool {
		q, err := client.CoreV1().ResourceQuotas(ns).Get(ctx, "ebb-test", metav1.GetOptions{})
		return err == nil && len(q.Status.Hard) > 0
	}) {
		t.Fatal("the quota has no status")
	}
	p := newProvider(t, Config{Namespace: ns})
	w, err := p.Launch(ctx, p.Shapes()[0], nil)
	if err != nil {
		t.Fatalf("Launch within the quota: %v", err)
	}
	_, err = p.Launch(ctx, p.Shapes()[0], nil)
	if !errors.Is(err, ebb.ErrUnavailable) || !strings.Contains(err.Error(), "quota") {
		t.Errorf("Launch over the quota: %v, want ErrUnavailable naming the quota", err)
	}
	if ws, _ := p.Workers(ctx); len(ws) != 1 || ws[0].ID != w.ID {
		t.Errorf("Workers = %v, want the first worker alone", ws)
	}
}

// TestAdopt starts a second provider with the first one's name, as a
// resumed driver would: it lists the first one's worker, reconnects to it
// with the token and address in its Secret, and runs an exec on it; its
// Terminate deletes the pod.
func TestAdopt(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	first := newProvider(t, Config{})
	w, err := first.Launch(ctx, first.Shapes()[1], ebb.Labels{"run": "adopted"})
	if err != nil {
		t.Fatal(err)
	}
	// A driver that died between creating a worker's Secret and its pod
	// left this one.
	orphan := first.cfg.secret(cluster.WorkerID(first.cfg.Name+"-dead-1"), "small", "token")
	if _, err := first.cfg.Client.CoreV1().Secrets(first.cfg.Namespace).Create(ctx, orphan, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	second := newProvider(t, Config{Name: first.cfg.Name})
	ws, err := second.Workers(ctx)
	if err != nil || len(ws) != 1 || ws[0].ID != w.ID || ws[0].Shape.Name != "large" || ws[0].Labels["run"] != "adopted" {
		t.Fatalf("the second provider's Workers = %+v, %v; want %s, large, labelled run=adopted", ws, err, w.ID)
	}
	if _, err := first.cfg.Client.CoreV1().Secrets(first.cfg.Namespace).Get(ctx, orphan.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Secret that belongs to no pod is still there after Workers (Get: %v)", err)
	}
	if _, err := first.cfg.Client.CoreV1().Secrets(first.cfg.Namespace).Get(ctx, string(w.ID), metav1.GetOptions{}); err != nil {
		t.Errorf("the adopted worker's Secret: %v", err)
	}
	a, err := pool.Allocate(ctx, ws[0].Pool, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 0.5}}, nil)
	if err != nil {
		t.Fatalf("Allocate on the adopted worker: %v", err)
	}
	x, err := a.Put(ctx, digest.FromString("adopted"), pool.ExecConfig{Argv: []string{"/bin/echo", "adopted"}})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := x.Wait(ctx); err != nil || !r.OK() || r.Stdout != "adopted\n" {
		t.Errorf("an exec on the adopted worker: %+v, %v", r, err)
	}
	if again, _ := second.Workers(ctx); len(again) != 1 || again[0].Pool != ws[0].Pool {
		t.Errorf("Workers again = %v, want the same adopted worker", again)
	}
	if err := second.Terminate(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	if !proctest.Eventually(time.Minute, func() bool { ws, _ := first.Workers(ctx); return len(ws) == 0 }) {
		t.Error("the first provider still lists the worker the second terminated")
	}
	if ws, _ := second.Workers(ctx); slices.ContainsFunc(ws, func(x cluster.Worker) bool { return x.ID == w.ID }) {
		t.Error("the second provider lists the worker it terminated")
	}
}

// TestAdoptDeletesPending makes a provider while a pod of an earlier one
// with the same Name pends (its shape fits no node): Workers deletes it,
// since its worker could only ever announce itself to the earlier
// provider, and the earlier provider's Launch fails.
func TestAdoptDeletesPending(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	huge := cluster.Shape{Name: "huge", Resources: ebb.Resources{ebb.CPU: 64, ebb.Mem: 1 << 40}, Price: 1}
	// The pod pends longer than the test waits for it to go.
	first := newProvider(t, Config{Shapes: []cluster.Shape{huge}, PendingTimeout: 5 * time.Minute})
	launched := make(chan error, 1)
	go func() {
		_, err := first.Launch(ctx, huge, nil)
		launched <- err
	}()
	client, ns := first.cfg.Client, first.cfg.Namespace
	sel := metav1.ListOptions{LabelSelector: selector(first.cfg.Name).String()}
	var pod string
	if !proctest.Eventually(time.Minute, func() bool {
		pods, err := client.CoreV1().Pods(ns).List(ctx, sel)
		if err != nil || len(pods.Items) == 0 {
			return false
		}
		pod = pods.Items[0].Name
		return true
	}) {
		t.Fatal("the first provider's pod never showed")
	}
	second := newProvider(t, Config{Name: first.cfg.Name, Shapes: []cluster.Shape{huge}})
	if ws, err := second.Workers(ctx); err != nil || len(ws) != 0 {
		t.Errorf("the second provider's Workers = %v, %v; want none", ws, err)
	}
	if !proctest.Eventually(30*time.Second, func() bool {
		_, err := client.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}) {
		t.Errorf("the earlier provider's pending pod %s is still there after Workers", pod)
		cancel() // ends the first provider's Launch
	}
	if err := <-launched; err == nil {
		t.Error("the first provider's Launch succeeded, though its pod was deleted")
	}
}
