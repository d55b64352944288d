package kube

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/pool/remote"
)

// Provider launches workers as pods, which announce themselves to its
// bootstrap. See the package doc.
//
// A Provider is safe for concurrent use. Its mutex guards the table of
// workers, the sequence number and the closed flag, and is never held
// while the API server is called. It runs the pod informer's goroutines
// and its bootstrap's server from New until Close. Make one with New, and
// Close it to delete its pods.
type Provider struct {
	cfg    Config
	boot   *bootstrap.Bootstrap
	nonce  string // part of every worker ID, so launches of providers sharing a Name do not collide
	pods   listersv1.PodNamespaceLister
	synced cache.InformerSynced
	// stopInformer stops the informer's goroutines; informerDone is
	// closed once they have returned.
	stopInformer func()

	closec   chan struct{} // closed when Close begins
	launches sync.WaitGroup
	reaps    sync.WaitGroup // deletions of the pods of lost workers

	mu      sync.Mutex
	workers map[cluster.WorkerID]*worker // launched or adopted, until their pod is seen deleted
	seq     int
	closed  bool
	// swept is set once deleteOrphanSecrets has deleted every Secret
	// that belonged to no pod: only an earlier driver leaves one.
	swept bool

	closeOnce sync.Once
	closeErr  error
}

var _ cluster.Provider = (*Provider)(nil)

// New returns a provider of cfg with the defaults filled in: it checks
// that the API server answers and that its account may do what the
// provider does in the namespace (see Role), starts watching the pods of
// Config.Name, and starts its bootstrap listening for announcements. The
// pods of an earlier provider with the same Name are left alone: Workers
// lists them for an Elastic to adopt. New fails with an error wrapping
// ebb.ErrInvalid, naming the field, when cfg is malformed, or naming the
// permissions that the account lacks; and with ebb.ErrUnavailable when
// the API server does not answer before ctx is done.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := checkAccess(ctx, cfg.Client, cfg.Namespace); err != nil {
		return nil, err
	}
	var b [4]byte
	rand.Read(b[:])
	p := &Provider{
		cfg:     cfg,
		nonce:   hex.EncodeToString(b[:]),
		closec:  make(chan struct{}),
		workers: make(map[cluster.WorkerID]*worker),
	}
	if err := p.watch(ctx); err != nil {
		return nil, err
	}
	// The workers of an earlier driver's pods are known to the bootstrap
	// before it serves: reaching it at the address it kept
	// (bootstrap.Config.Keep), they are not refused as unknown.
	boot := cfg.Bootstrap
	boot.Adopt = append(slices.Clone(boot.Adopt), p.earlier(ctx)...)
	if p.boot, err = bootstrap.New(boot); err != nil {
		p.stopInformer()
		return nil, fmt.Errorf("kube: %w", err)
	}
	cfg.Logger.Info("kube: provider started", "namespace", cfg.Namespace, "name", cfg.Name, "image", cfg.Image)
	return p, nil
}

// watch starts the informer of the provider's pods and waits for its
// first list.
func (p *Provider) watch(ctx context.Context) error {
	sel := selector(p.cfg.Name).String()
	factory := informers.NewSharedInformerFactoryWithOptions(p.cfg.Client, 0,
		informers.WithNamespace(p.cfg.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = sel }))
	inf := factory.Core().V1().Pods()
	informer := inf.Informer()
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { p.observe(obj, false) },
		UpdateFunc: func(_, obj any) { p.observe(obj, false) },
		DeleteFunc: func(obj any) { p.observe(obj, true) },
	}); err != nil {
		return fmt.Errorf("kube: watching pods: %w", err)
	}
	p.pods = inf.Lister().Pods(p.cfg.Namespace)
	p.synced = informer.HasSynced
	stopc := make(chan struct{})
	factory.Start(stopc)
	p.stopInformer = func() {
		close(stopc)
		factory.Shutdown()
	}
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		p.stopInformer()
		return fmt.Errorf("kube: listing the pods of %s in namespace %s: no answer from the API server at %s: %w",
			sel, p.cfg.Namespace, apiHost(p.cfg.Client), ebb.ErrUnavailable)
	}
	return nil
}

// Shapes returns the configured shapes.
func (p *Provider) Shapes() []cluster.Shape { return cluster.CloneShapes(p.cfg.Shapes) }

// Workers lists the provider's workers that are up: those it launched,
// and the running pods of an earlier provider with the same Name (in the
// same namespace), which it reconnects to with the URL, pin and token in
// each pod's Secret and adopts from then on. An earlier provider's pod
// that is not running (it ended, or does not run yet), or whose worker
// never announced itself or does not answer, is deleted, and so are the
// Secrets of the Name that belong to no pod (deleteOrphanSecrets). It
// fails with ebb.ErrClosed once the provider is closed.
func (p *Provider) Workers(ctx context.Context) ([]cluster.Worker, error) {
	pods, err := p.pods.List(selector(p.cfg.Name))
	if err != nil {
		return nil, fmt.Errorf("kube: workers: %w: %w", err, ebb.ErrUnavailable)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, p.errClosed("workers")
	}
	var others, stale []*corev1.Pod
	for _, pod := range pods {
		if p.workers[cluster.WorkerID(pod.Name)] != nil || pod.DeletionTimestamp != nil {
			continue
		}
		if pod.Status.Phase == corev1.PodRunning {
			others = append(others, pod)
		} else {
			stale = append(stale, pod)
		}
	}
	p.mu.Unlock()
	// An earlier driver's pods that ended (their workers stopped once
	// nobody renewed a lease) go, with their Secrets; so do those that
	// do not run yet: their workers would announce themselves only to
	// the driver that launched them, which is gone, so none can be
	// adopted, and each would hold its node until its lease ran out.
	for _, pod := range stale {
		if !podEnded(pod) {
			p.cfg.Logger.Warn("kube: deleting a pod of an earlier driver that never ran its worker", "pod", pod.Name, "phase", pod.Status.Phase)
		}
		p.deleteEarlier(ctx, pod)
	}
	for _, pod := range others {
		if err := p.adopt(ctx, pod); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// A worker that cannot be adopted (its driver died before
			// it announced itself, or it does not answer) is stopped:
			// no task of the run may go on there unseen.
			p.cfg.Logger.Warn("kube: not adopting a pod of an earlier driver; deleting it", "pod", pod.Name, "err", err)
			p.deleteEarlier(ctx, pod)
		}
	}
	p.deleteOrphanSecrets(ctx, pods)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, p.errClosed("workers")
	}
	var out []cluster.Worker
	for _, id := range slices.Sorted(maps.Keys(p.workers)) {
		if w := p.workers[id]; w.up() {
			out = append(out, w.worker())
		}
	}
	return out, nil
}

// deleteEarlier deletes a pod of an earlier driver's, and its Secret.
func (p *Provider) deleteEarlier(ctx context.Context, pod *corev1.Pod) {
	w := newWorker(cluster.WorkerID(pod.Name), cluster.Shape{Name: pod.Labels[LabelShape]}, nil, nil)
	if err := p.stop(ctx, w, time.Second); err != nil {
		p.cfg.Logger.Warn("kube: deleting a pod of an earlier driver", "pod", pod.Name, "err", err)
	}
}

// deleteOrphanSecrets deletes the Secrets of the provider's Name that
// belong to no pod: neither one of pods (the informer's, listed before
// the Secrets) nor a worker of this provider's. An earlier driver that
// died after creating a worker's Secret and before its pod leaves one,
// with the worker's token in it, that no garbage collector deletes: it
// has no owner yet. A Launch of this provider's is among its workers
// from before it creates the Secret. Only an earlier driver leaves such
// a Secret, so once a call has deleted them all, later calls do nothing;
// after a failure, which is logged, the next call tries again.
func (p *Provider) deleteOrphanSecrets(ctx context.Context, pods []*corev1.Pod) {
	p.mu.Lock()
	swept := p.swept
	p.mu.Unlock()
	if swept {
		return
	}
	secrets := p.cfg.Client.CoreV1().Secrets(p.cfg.Namespace)
	list, err := secrets.List(ctx, metav1.ListOptions{LabelSelector: selector(p.cfg.Name).String()})
	if err != nil {
		p.cfg.Logger.Warn("kube: listing the provider's Secrets", "err", p.apiError(err, "list", "secrets", ""))
		return
	}
	hasPod := make(map[string]bool, len(pods))
	for _, pod := range pods {
		hasPod[pod.Name] = true
	}
	var orphans []string
	p.mu.Lock()
	for _, s := range list.Items {
		if !hasPod[s.Name] && p.workers[cluster.WorkerID(s.Name)] == nil {
			orphans = append(orphans, s.Name)
		}
	}
	p.mu.Unlock()
	failed := false
	for _, name := range orphans {
		err := secrets.Delete(ctx, name, metav1.DeleteOptions{})
		switch {
		case err == nil:
			p.cfg.Logger.Info("kube: deleted a Secret of an earlier driver's that belongs to no pod", "secret", name)
		case !apierrors.IsNotFound(err):
			failed = true
			p.cfg.Logger.Warn("kube: deleting a Secret that belongs to no pod", "secret", name, "err", p.apiError(err, "delete", "secrets", name))
		}
	}
	if !failed {
		p.mu.Lock()
		p.swept = true
		p.mu.Unlock()
	}
}

// Close deletes every pod (and Secret) of the provider's, launched or
// adopted, with the grace period that lets their workers drain, waits
// (until ctx is done) for them to be gone, stops watching the pods and
// stops listening for announcements. A Launch in flight fails with
// ebb.ErrClosed, deleting its pod. Close returns the deletions that
// failed, joined; closing again returns the first Close's error.
func (p *Provider) Close(ctx context.Context) error {
	p.closeOnce.Do(func() { p.closeErr = p.close(ctx) })
	return p.closeErr
}

func (p *Provider) close(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	close(p.closec)
	p.mu.Unlock()
	p.launches.Wait() // each deletes its pod
	p.reaps.Wait()
	p.mu.Lock()
	ws := slices.Collect(maps.Values(p.workers))
	p.mu.Unlock()
	var errs []error
	for _, w := range ws {
		if err := p.stop(ctx, w, p.cfg.TerminationGrace); err != nil {
			errs = append(errs, err)
		}
	}
	for _, w := range ws {
		select {
		case <-w.deletedc:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("kube: close: pod %s not gone: %w", w.id, ctx.Err()))
		}
	}
	p.stopInformer()
	return errors.Join(append(errs, p.boot.Close())...)
}

// stop deletes w's pod with the given grace and its Secret, and loses
// the worker: its client's calls fail from then on. A pod already gone
// is no error; any other failure wraps ebb.ErrUnavailable, and leaves
// the worker as it was.
func (p *Provider) stop(ctx context.Context, w *worker, grace time.Duration) error {
	secs := int64(grace.Seconds())
	err := p.cfg.Client.CoreV1().Pods(p.cfg.Namespace).Delete(ctx, string(w.id), metav1.DeleteOptions{GracePeriodSeconds: &secs})
	switch {
	case apierrors.IsNotFound(err):
		w.markDeleted()
	case err != nil:
		return p.apiError(err, "delete", "pods", string(w.id))
	}
	p.mu.Lock()
	w.terminating = true
	c := w.client
	p.mu.Unlock()
	w.lose()
	if w.exp != nil {
		p.boot.Forget(w.id)
	}
	if c != nil {
		c.Close()
	}
	// The Secret goes now: the garbage collector would delete it after
	// the pod (it is the pod's), but not before a driver that checks.
	if err := p.cfg.Client.CoreV1().Secrets(p.cfg.Namespace).Delete(ctx, string(w.id), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		p.cfg.Logger.Warn("kube: deleting a worker's Secret (the garbage collector deletes it after its pod)", "worker", w.id, "err", err)
	}
	return nil
}

// dialAdopted connects to the worker of an earlier driver's pod.
func (p *Provider) dialAdopted(ctx context.Context, w *worker, sec *corev1.Secret) (*remote.Client, error) {
	cfg := p.cfg.Bootstrap.Client
	cfg.URL, cfg.Token, cfg.Pin, cfg.Gone = string(sec.Data[SecretURL]), string(sec.Data[SecretToken]), string(sec.Data[SecretPin]), w.gonec
	return remote.Dial(ctx, cfg)
}

func (p *Provider) errClosed(op string) error {
	return fmt.Errorf("kube: %s: provider closed: %w", op, ebb.ErrClosed)
}
