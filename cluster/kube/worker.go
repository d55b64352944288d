package kube

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/pool/remote"
)

// A worker is one pod of the provider's and the worker it runs. Its
// first fields never change once it is in the table; the provider's
// mutex guards the rest.
type worker struct {
	id     cluster.WorkerID // also the pod's and the Secret's name
	shape  cluster.Shape
	labels ebb.Labels
	exp    *bootstrap.Expected // nil for a worker adopted from an earlier driver
	seenc  chan struct{}       // gets a value (without blocking) after each observation of the pod

	goneOnce sync.Once
	gonec    chan struct{} // an adopted worker's: closed when it is lost

	deletedOnce sync.Once
	deletedc    chan struct{} // closed once the pod is seen deleted

	pod         *corev1.Pod    // as last seen; nil before
	client      *remote.Client // set once the worker is up
	ended       bool           // the pod ended, or is being deleted
	terminating bool           // Terminate or Close deleted the pod
}

func newWorker(id cluster.WorkerID, shape cluster.Shape, labels ebb.Labels, exp *bootstrap.Expected) *worker {
	return &worker{
		id: id, shape: shape, labels: labels.Clone(), exp: exp,
		seenc: make(chan struct{}, 1), gonec: make(chan struct{}), deletedc: make(chan struct{}),
	}
}

// up reports whether the worker serves: it is up, and neither ended nor
// terminated. The caller holds the provider's mutex.
func (w *worker) up() bool { return w.client != nil && !w.ended && !w.terminating }

func (w *worker) worker() cluster.Worker {
	return cluster.Worker{ID: w.id, Shape: cluster.Shape{Name: w.shape.Name, Resources: w.shape.Resources.Clone(), Price: w.shape.Price}, Pool: w.client, Labels: w.labels.Clone()}
}

// lose makes the worker's client fail every call on allocs from now on.
// It is idempotent.
func (w *worker) lose() {
	if w.exp != nil {
		w.exp.Lost()
	}
	w.goneOnce.Do(func() { close(w.gonec) })
}

// gone returns a channel closed once the worker is lost.
func (w *worker) gone() <-chan struct{} {
	if w.exp != nil {
		return w.exp.Gone()
	}
	return w.gonec
}

func (w *worker) markDeleted() { w.deletedOnce.Do(func() { close(w.deletedc) }) }

// observe records what the informer shows of a pod of the provider's
// name, wakes the Launch that waits for it, and loses its worker when the
// pod ended (failed, evicted, succeeded) or is being deleted: the
// worker's client fails every call on its allocs with ebb.ErrExpired
// from then on, so that their holders run the work elsewhere. A deleted
// pod's worker leaves the table.
func (p *Provider) observe(obj any, deleted bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj, deleted = d.Obj, true
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	id := cluster.WorkerID(pod.Name)
	p.mu.Lock()
	w := p.workers[id]
	if w == nil {
		p.mu.Unlock()
		return
	}
	w.pod = pod
	ended := deleted || podEnded(pod)
	wasUp := w.up()
	w.ended = w.ended || ended
	c := w.client
	if deleted {
		delete(p.workers, id)
	}
	// A pod that ended by itself stays until someone deletes it: the
	// provider does, with its Secret, unless its Launch does (abandon).
	reap := ended && !deleted && !w.terminating && c != nil && !p.closed
	if reap {
		w.terminating = true
		p.reaps.Add(1)
	}
	p.mu.Unlock()
	if reap {
		go p.reap(w)
	}
	select {
	case w.seenc <- struct{}{}:
	default:
	}
	if !ended {
		return
	}
	w.lose()
	if wasUp {
		p.cfg.Logger.Warn("kube: worker lost", "worker", id, "pod", describePod(pod, deleted))
		if w.exp != nil {
			p.boot.Forget(id)
		}
		c.Close()
	}
	if deleted {
		w.markDeleted()
	}
}

// reap deletes the pod of a worker that ended by itself, and its Secret.
func (p *Provider) reap(w *worker) {
	defer p.reaps.Done()
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.StopTimeout)
	defer cancel()
	if err := p.stop(ctx, w, time.Second); err != nil {
		p.cfg.Logger.Warn("kube: deleting the pod of a lost worker", "worker", w.id, "err", err)
	}
}

// podEnded reports whether the pod's worker is gone or going: the pod
// failed (its worker exited, was killed, the pod was evicted), succeeded,
// or is being deleted.
func podEnded(pod *corev1.Pod) bool {
	return pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded
}

// describePod says in a few words what became of a pod, for errors and
// logs: "Failed (Evicted: The node was low on resource: memory)",
// "Pending (Unschedulable: 0/1 nodes are available: 1 Insufficient cpu)",
// "Failed (worker exited 1: Error)", "deleted".
func describePod(pod *corev1.Pod, deleted bool) string {
	switch {
	case deleted:
		return "deleted"
	case pod.DeletionTimestamp != nil:
		return "being deleted"
	}
	var why []string
	if pod.Status.Reason != "" {
		why = append(why, join(pod.Status.Reason, pod.Status.Message))
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			why = append(why, join(c.Reason, c.Message))
		}
	}
	for _, s := range pod.Status.ContainerStatuses {
		switch {
		case s.State.Waiting != nil && s.State.Waiting.Reason != "" && s.State.Waiting.Reason != "ContainerCreating":
			why = append(why, join(s.State.Waiting.Reason, s.State.Waiting.Message))
		case s.State.Terminated != nil:
			t := s.State.Terminated
			why = append(why, join(fmt.Sprintf("%s exited %d", s.Name, t.ExitCode), join(t.Reason, t.Message)))
		}
	}
	phase := string(pod.Status.Phase)
	if phase == "" {
		phase = "Pending"
	}
	if len(why) == 0 {
		return phase
	}
	return phase + " (" + strings.Join(why, "; ") + ")"
}

func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + ": " + b
}

// neverRuns returns why a pending pod can never run, or "": its image is
// not on the node and may not be pulled, or its name is invalid.
func neverRuns(pod *corev1.Pod) string {
	for _, s := range pod.Status.ContainerStatuses {
		if s.State.Waiting != nil {
			switch s.State.Waiting.Reason {
			case "ErrImageNeverPull", "InvalidImageName":
				return join(s.State.Waiting.Reason, s.State.Waiting.Message)
			}
		}
	}
	return ""
}

// adopt reconnects to the worker of a running pod of the provider's
// name that this provider did not launch: an earlier driver's. Its
// Secret holds the worker's token and the URL and pin it announced.
func (p *Provider) adopt(ctx context.Context, pod *corev1.Pod) error {
	sec, err := p.cfg.Client.CoreV1().Secrets(p.cfg.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		return p.apiError(err, "get", "secrets", pod.Name)
	}
	if len(sec.Data[SecretURL]) == 0 {
		return fmt.Errorf("its worker never announced itself: %w", ebb.ErrUnavailable)
	}
	id := cluster.WorkerID(pod.Name)
	name := pod.Labels[LabelShape]
	shape, ok := cluster.FindShape(p.cfg.Shapes, name)
	if !ok {
		shape = cluster.Shape{Name: name}
	}
	w := newWorker(id, shape, podLabels(pod), nil)
	w.pod = pod
	// The bootstrap takes the worker's announcements (that it leaves)
	// and blob requests as those of one it expects.
	if ok {
		if _, err := p.boot.Adopt(record(pod, sec, shape)); err != nil {
			return err
		}
	}
	c, err := p.dialAdopted(ctx, w, sec)
	if err != nil {
		if ok {
			p.boot.Forget(id)
		}
		return err
	}
	p.mu.Lock()
	switch {
	case p.closed || p.workers[id] != nil:
		p.mu.Unlock()
		c.Close()
		return nil
	}
	// An event of the pod may have come since it was listed.
	if cur, err := p.pods.Get(pod.Name); err != nil || podEnded(cur) {
		p.mu.Unlock()
		c.Close()
		return fmt.Errorf("the pod ended: %w", ebb.ErrUnavailable)
	}
	w.client = c
	p.workers[id] = w
	p.mu.Unlock()
	p.cfg.Logger.Info("kube: adopted an earlier driver's worker", "worker", id, "shape", shape.Name, "url", c.URL())
	return nil
}

// record is what a pod's Secret says of its worker.
func record(pod *corev1.Pod, sec *corev1.Secret, shape cluster.Shape) cluster.WorkerRecord {
	return cluster.WorkerRecord{
		ID: cluster.WorkerID(pod.Name), Shape: shape, Labels: podLabels(pod), Handle: pod.Name,
		URL: string(sec.Data[SecretURL]), Pin: string(sec.Data[SecretPin]), Token: string(sec.Data[SecretToken]),
	}
}

// earlier returns the records of the running pods of an earlier driver
// whose workers announced themselves, for the bootstrap to know before
// it serves. A pod whose Secret cannot be read is left to Workers.
func (p *Provider) earlier(ctx context.Context) []cluster.WorkerRecord {
	pods, err := p.pods.List(selector(p.cfg.Name))
	if err != nil {
		return nil
	}
	var recs []cluster.WorkerRecord
	for _, pod := range pods {
		if pod.Status.Phase != corev1.PodRunning || pod.DeletionTimestamp != nil {
			continue
		}
		sec, err := p.cfg.Client.CoreV1().Secrets(p.cfg.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil || len(sec.Data[SecretURL]) == 0 || len(sec.Data[SecretToken]) == 0 {
			continue
		}
		shape, ok := cluster.FindShape(p.cfg.Shapes, pod.Labels[LabelShape])
		if !ok {
			continue
		}
		recs = append(recs, record(pod, sec, shape))
	}
	return recs
}
