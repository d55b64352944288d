package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/pool/remote"
)

// Launch creates a pod that runs a worker of the given shape, and returns
// once the worker announced itself to the provider's bootstrap and its
// pool answered. The worker's token reaches the pod through a Secret of
// the worker's name (an environment variable taken from it), never its
// spec or command line; the Secret belongs to the pod, so it goes with
// it. Once the worker is up, its URL and pin join its token in the
// Secret, for a resumed driver to reconnect with. The labels travel as
// the pod's annotation ebbflow.io/labels.
//
// Launch fails, after deleting the pod and its Secret and waiting (up to
// StopTimeout) for the pod to be gone: with ebb.ErrUnavailable when the
// pod is not running after PendingTimeout (unschedulable, its image
// being pulled), a ResourceQuota refuses it, it ends before its worker
// announced itself, the worker does not announce itself within
// AnnounceTimeout, or the API server does not answer; with
// ebb.ErrResources when the pod can never run (its image may not be
// pulled, the API server refuses its spec); with ebb.ErrInvalid, naming
// the permission, when the provider's account may not do what it must;
// with ebb.ErrClosed when the provider is closed meanwhile; and with
// ctx's error when ctx is done first. An unknown shape fails with
// ebb.ErrInvalid.
func (p *Provider) Launch(ctx context.Context, shape cluster.Shape, labels ebb.Labels) (cluster.Worker, error) {
	sh, ok := cluster.FindShape(p.cfg.Shapes, shape.Name)
	if !ok {
		return cluster.Worker{}, fmt.Errorf("kube: launch: no shape %q: %w", shape.Name, ebb.ErrInvalid)
	}
	if err := labels.Validate(); err != nil {
		return cluster.Worker{}, fmt.Errorf("kube: launch: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return cluster.Worker{}, fmt.Errorf("kube: launch %s: %w", sh.Name, err)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return cluster.Worker{}, p.errClosed("launch")
	}
	p.seq++
	id := cluster.WorkerID(fmt.Sprintf("%s-%s-%d", p.cfg.Name, p.nonce, p.seq))
	p.launches.Add(1)
	p.mu.Unlock()
	defer p.launches.Done()

	exp, err := p.boot.Expect(id, sh)
	if err != nil {
		return cluster.Worker{}, fmt.Errorf("kube: launch %s: %w", sh.Name, err)
	}
	w := newWorker(id, sh, labels, exp)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.boot.Forget(id)
		return cluster.Worker{}, p.errClosed("launch")
	}
	p.workers[id] = w
	p.mu.Unlock()

	c, err := p.start(ctx, w)
	if err == nil {
		err = p.up(ctx, w, c)
	}
	if err != nil {
		p.abandon(ctx, w)
		if ctx.Err() != nil && !errors.Is(err, ebb.ErrResources) && !errors.Is(err, ebb.ErrInvalid) {
			err = fmt.Errorf("kube: launch %s: %w", sh.Name, ctx.Err())
		}
		return cluster.Worker{}, err
	}
	p.cfg.Logger.Info("kube: worker up", "worker", id, "shape", sh.Name, "url", c.URL())
	return w.worker(), nil
}

// start creates w's Secret and pod, and waits for its worker to announce
// itself.
func (p *Provider) start(ctx context.Context, w *worker) (*remote.Client, error) {
	fail := func(err error) (*remote.Client, error) {
		return nil, fmt.Errorf("kube: launch %s: %w", w.shape.Name, err)
	}
	secrets := p.cfg.Client.CoreV1().Secrets(p.cfg.Namespace)
	if _, err := secrets.Create(ctx, p.cfg.secret(w.id, w.shape.Name, w.exp.Token()), metav1.CreateOptions{}); err != nil {
		return fail(p.apiError(err, "create", "secrets", string(w.id)))
	}
	pod, err := p.cfg.Client.CoreV1().Pods(p.cfg.Namespace).Create(ctx, p.cfg.pod(w.id, w.shape, w.labels, w.exp.Argv), metav1.CreateOptions{})
	if err != nil {
		return fail(p.apiError(err, "create", "pods", string(w.id)))
	}
	// The Secret is the pod's: should this driver die, the garbage
	// collector deletes it with the pod.
	owner, _ := json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID,
	}}}})
	if _, err := secrets.Patch(ctx, string(w.id), types.MergePatchType, owner, metav1.PatchOptions{}); err != nil {
		return fail(p.apiError(err, "patch", "secrets", string(w.id)))
	}
	p.cfg.Logger.Info("kube: pod created", "worker", w.id, "shape", w.shape.Name)

	return w.exp.Await(ctx, bootstrap.Watch{
		Seen: w.seenc,
		Check: func() (bool, error) {
			p.mu.Lock()
			pod, ended := w.pod, w.ended
			p.mu.Unlock()
			switch {
			case ended:
				w.lose() // Await's Wait returns at once
			case neverRuns(pod) != "":
				return false, fmt.Errorf("kube: launch %s: pod %s can never run: %s: %w", w.shape.Name, w.id, neverRuns(pod), ebb.ErrResources)
			case pod.Status.Phase == corev1.PodRunning:
				return true, nil
			}
			return false, nil
		},
		PendingTimeout: p.cfg.PendingTimeout,
		Pending: func() error {
			return fmt.Errorf("kube: launch %s: pod %s not running after %v: %s: %w", w.shape.Name, w.id, p.cfg.PendingTimeout, p.podState(w), ebb.ErrUnavailable)
		},
		AnnounceTimeout: p.cfg.AnnounceTimeout,
		Silent: func() error {
			return fmt.Errorf("kube: launch %s: the worker of pod %s did not announce itself within %v of running (can it reach %s?)%s: %w",
				w.shape.Name, w.id, p.cfg.AnnounceTimeout, p.boot.URL(), p.logTail(ctx, w.id), ebb.ErrUnavailable)
		},
		Gone: func(err error) error {
			return fmt.Errorf("kube: launch %s: pod %s %s before its worker was up%s: %w", w.shape.Name, w.id, p.podState(w), p.logTail(ctx, w.id), err)
		},
		Closed: p.closec,
		Stop:   func() error { return p.errClosed("launch") },
	})
}

// podState describes w's pod as last seen.
func (p *Provider) podState(w *worker) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w.pod == nil {
		return "Pending"
	}
	return describePod(w.pod, false)
}

// logTail returns the last lines of the worker container's log, as
// ", its log ending: …", or "" when there is none.
func (p *Provider) logTail(ctx context.Context, id cluster.WorkerID) string {
	lines := int64(3)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	b, err := p.cfg.Client.CoreV1().Pods(p.cfg.Namespace).GetLogs(string(id), &corev1.PodLogOptions{Container: p.cfg.Container, TailLines: &lines}).DoRaw(ctx)
	if err != nil || len(b) == 0 {
		return ""
	}
	return ", its log ending: " + string(b)
}

// up records the worker's URL and pin in its Secret, for a resumed
// driver to reconnect with, and its client, unless its pod ended or the
// provider was closed meanwhile.
func (p *Provider) up(ctx context.Context, w *worker, c *remote.Client) error {
	a, _ := w.exp.Announced()
	patch, _ := json.Marshal(map[string]any{"data": map[string][]byte{SecretURL: []byte(a.URL), SecretPin: []byte(a.Pin)}})
	if _, err := p.cfg.Client.CoreV1().Secrets(p.cfg.Namespace).Patch(ctx, string(w.id), types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		c.Close()
		return fmt.Errorf("kube: launch %s: recording the worker's address: %w", w.shape.Name, p.apiError(err, "patch", "secrets", string(w.id)))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		c.Close()
		return p.errClosed("launch")
	case w.ended:
		c.Close()
		return fmt.Errorf("kube: launch %s: pod %s ended as its worker came up: %w", w.shape.Name, w.id, ebb.ErrUnavailable)
	}
	w.client = c
	return nil
}

// abandon deletes the pod and Secret of a launch that failed, with a
// second's grace (none would delete the pod before its container is
// gone), waits (up to StopTimeout) for the pod to be gone, and forgets the
// worker.
func (p *Provider) abandon(ctx context.Context, w *worker) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.StopTimeout)
	defer cancel()
	err := p.stop(ctx, w, time.Second)
	if err == nil {
		if _, getErr := p.cfg.Client.CoreV1().Pods(p.cfg.Namespace).Get(ctx, string(w.id), metav1.GetOptions{}); apierrors.IsNotFound(getErr) {
			// Never created, or gone already: no event will say so.
			w.markDeleted()
		}
		select {
		case <-w.deletedc:
		case <-ctx.Done():
			err = fmt.Errorf("pod not gone after %v", p.cfg.StopTimeout)
		}
	}
	p.mu.Lock()
	if p.workers[w.id] == w {
		delete(p.workers, w.id)
	}
	p.mu.Unlock()
	if err != nil {
		p.cfg.Logger.Warn("kube: deleting the pod of a failed launch", "worker", w.id, "err", err)
	}
}
