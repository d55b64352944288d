package kube

import (
	"context"

	"github.com/ebbflow/ebb/cluster"
)

// Terminate deletes the pod of the worker with the given ID, with
// TerminationGrace: the kubelet sends the worker SIGTERM, on which it
// drains (its allocs are freed, their running execs reported lost) and
// exits, and kills it should it still run when the grace is out. It also
// deletes the worker's Secret. It returns once the API server took the
// deletion; from then on Workers does not list the worker, and its
// client's calls on allocs fail with ebb.ErrExpired. A pod of the
// provider's Name that it did not launch or adopt is deleted too.
// Terminating a worker that is gone, or never was, returns nil; so does
// terminating one still starting, whose Launch owns it. When the API
// server does not answer, Terminate fails with an error wrapping
// ebb.ErrUnavailable and the worker stays listed, for the caller to try
// again.
func (p *Provider) Terminate(ctx context.Context, id cluster.WorkerID) error {
	p.mu.Lock()
	w := p.workers[id]
	switch {
	case w != nil && (w.terminating || (w.client == nil && w.exp != nil)):
		p.mu.Unlock()
		return nil
	case w == nil:
		pod, err := p.pods.Get(string(id))
		if err != nil || pod.DeletionTimestamp != nil {
			p.mu.Unlock()
			return nil
		}
		// An earlier driver's: watched like the others until it is gone.
		w = newWorker(id, cluster.Shape{Name: pod.Labels[LabelShape]}, nil, nil)
		w.pod = pod
		p.workers[id] = w
	}
	placeholder := w.exp == nil && w.client == nil
	p.mu.Unlock()
	if err := p.stop(ctx, w, p.cfg.TerminationGrace); err != nil {
		if placeholder {
			p.mu.Lock()
			if p.workers[id] == w {
				delete(p.workers, id)
			}
			p.mu.Unlock()
		}
		return err
	}
	p.cfg.Logger.Info("kube: worker terminated", "worker", id)
	return nil
}
