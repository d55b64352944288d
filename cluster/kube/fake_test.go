package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/internal/proctest"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/remote"
)

// The tests of this file run the provider on client-go's fake clientset,
// whose pods a fakeKubelet runs as real ebb worker processes: only for
// what a real cluster does not cheaply produce, an eviction and an API
// server that fails a call. The rest is tested on the real cluster
// (kube_test.go).

const fakeNamespace = "ebb-fake"

// newFakeProvider returns a provider on a fake clientset and its fake
// kubelet, closed when t ends.
func newFakeProvider(t *testing.T, client *fake.Clientset) *Provider {
	t.Helper()
	startFakeKubelet(t, client, fakeNamespace)
	cfg := Config{
		Client:    client,
		Namespace: fakeNamespace,
		Image:     "ebb.test/worker:latest",
		Bootstrap: bootstrap.Config{
			Command:      []string{ebbBinary, "worker"},
			Grace:        2 * time.Second,
			LeaseTimeout: time.Minute,
			Client:       remote.ClientConfig{Timeout: 5 * time.Second, RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, WaitPoll: time.Second},
		},
		Shapes: []cluster.Shape{{Name: "small", Resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 256 << 20}, Price: 1}},
	}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	p, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		pods, _ := client.CoreV1().Pods(fakeNamespace).List(ctx, metav1.ListOptions{})
		secrets, _ := client.CoreV1().Secrets(fakeNamespace).List(ctx, metav1.ListOptions{})
		if len(pods.Items)+len(secrets.Items) > 0 {
			t.Errorf("after Close: %d pods, %d Secrets left", len(pods.Items), len(secrets.Items))
		}
	})
	return p
}

// TestFakeEvicted evicts a worker's pod while an exec runs on it (the
// kubelet marks the pod Failed, reason Evicted, and kills its
// containers): the exec's Wait fails with ErrExpired, the worker leaves
// Workers, and terminating it is nil.
func TestFakeEvicted(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	client := newFakeClient()
	p := newFakeProvider(t, client)
	w, err := p.Launch(ctx, p.Shapes()[0], ebb.Labels{"run": "evicted"})
	if err != nil {
		t.Fatal(err)
	}
	_, x := running(t, ctx, w)
	waited := wait(ctx, x)
	pod, err := client.CoreV1().Pods(fakeNamespace).Get(ctx, string(w.ID), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase, pod.Status.Reason, pod.Status.Message = corev1.PodFailed, "Evicted", "The node was low on resource: memory."
	if _, err := client.CoreV1().Pods(fakeNamespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-waited:
		if !errors.Is(r.err, ebb.ErrExpired) {
			t.Errorf("Wait of an exec whose pod was evicted: %+v, %v; want ErrExpired", r.res, r.err)
		}
	case <-ctx.Done():
		t.Fatal("Wait of an exec whose pod was evicted did not return")
	}
	if ws, err := p.Workers(ctx); err != nil || len(ws) != 0 {
		t.Errorf("Workers after the eviction = %v, %v; want none", ws, err)
	}
	if err := p.Terminate(ctx, w.ID); err != nil {
		t.Errorf("Terminate of the evicted worker: %v", err)
	}
}

// TestFakeAPIFails makes the API server fail calls: a Terminate whose
// delete fails is ErrUnavailable and leaves the worker listed, until a
// Terminate that works; a Launch whose pod create fails is
// ErrUnavailable and leaves no Secret.
func TestFakeAPIFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	client := newFakeClient()
	p := newFakeProvider(t, client)
	w, err := p.Launch(ctx, p.Shapes()[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	failOnce(client, "delete", "pods")
	if err := p.Terminate(ctx, w.ID); !errors.Is(err, ebb.ErrUnavailable) || !strings.Contains(err.Error(), "delete pods") {
		t.Errorf("Terminate whose delete failed: %v, want ErrUnavailable naming delete pods", err)
	}
	if ws, _ := p.Workers(ctx); len(ws) != 1 {
		t.Errorf("Workers after a failed Terminate = %v, want the worker still there", ws)
	}
	if _, err := w.Pool.Offers(ctx); err != nil {
		t.Errorf("the worker's pool after a failed Terminate: %v", err)
	}
	if err := p.Terminate(ctx, w.ID); err != nil {
		t.Errorf("Terminate again: %v", err)
	}
	if ws, _ := p.Workers(ctx); len(ws) != 0 {
		t.Errorf("Workers after Terminate = %v, want none", ws)
	}

	failOnce(client, "create", "pods")
	if _, err := p.Launch(ctx, p.Shapes()[0], nil); !errors.Is(err, ebb.ErrUnavailable) || !strings.Contains(err.Error(), "create pods") {
		t.Errorf("Launch whose pod create failed: %v, want ErrUnavailable naming create pods", err)
	}
	if secrets, _ := client.CoreV1().Secrets(fakeNamespace).List(ctx, metav1.ListOptions{}); len(secrets.Items) != 0 {
		t.Errorf("a failed Launch left %d Secrets", len(secrets.Items))
	}
}

// TestFakeOrphanSecrets leaves a Secret of the provider's Name without a
// pod, as a driver killed between creating the two does: Workers deletes
// it, after a failed list on the next call, and once that is done lists
// Secrets no more.
func TestFakeOrphanSecrets(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	client := newFakeClient()
	p := newFakeProvider(t, client)
	orphan := p.cfg.secret(cluster.WorkerID(p.cfg.Name+"-dead-1"), "small", "token")
	if _, err := client.CoreV1().Secrets(fakeNamespace).Create(ctx, orphan, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	lists := 0
	client.PrependReactor("list", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		lists++
		return false, nil, nil
	})
	left := func() bool {
		_, err := client.CoreV1().Secrets(fakeNamespace).Get(ctx, orphan.Name, metav1.GetOptions{})
		return err == nil
	}
	failOnce(client, "list", "secrets")
	if _, err := p.Workers(ctx); err != nil || !left() {
		t.Fatalf("Workers whose list of Secrets failed: %v, the Secret left: %v; want no error, the Secret left", err, left())
	}
	if _, err := p.Workers(ctx); err != nil || left() {
		t.Fatalf("Workers again: %v, the Secret left: %v; want it gone", err, left())
	}
	before := lists
	if _, err := p.Workers(ctx); err != nil || lists != before {
		t.Errorf("Workers once the Secrets were swept: %v, %d more lists of Secrets; want none", err, lists-before)
	}
}

// failOnce makes the next verb on resource fail as an API server that
// is overloaded does.
func failOnce(client *fake.Clientset, verb, resource string) {
	done := false
	client.PrependReactor(verb, resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
		if done {
			return false, nil, nil
		}
		done = true
		return true, nil, apierrors.NewServiceUnavailable(fmt.Sprintf("%s %s: try again", verb, resource))
	})
}

type waitResult struct {
	res pool.Result
	err error
}

// running allocates half a core of w and runs a long sleep in it.
func running(t *testing.T, ctx context.Context, w cluster.Worker) (pool.Alloc, pool.Exec) {
	t.Helper()
	a, err := pool.Allocate(ctx, w.Pool, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 0.5}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	x, err := a.Put(ctx, digest.FromString("sleep"), pool.ExecConfig{Argv: []string{"/bin/sleep", "300"}, Resources: ebb.Resources{ebb.CPU: 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	if !proctest.Eventually(20*time.Second, func() bool {
		in, err := x.Inspect(ctx)
		return err == nil && in.State == pool.ExecRunning
	}) {
		t.Fatal("the exec is not running")
	}
	return a, x
}

// wait waits for x in a goroutine, which ends when ctx does.
func wait(ctx context.Context, x pool.Exec) <-chan waitResult {
	c := make(chan waitResult, 1)
	go func() {
		r, err := x.Wait(ctx)
		c <- waitResult{r, err}
	}()
	return c
}
