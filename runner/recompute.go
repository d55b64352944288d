package runner

import (
	"context"
	"errors"
	"slices"

	"github.com/ebbflow/ebb"
	"github.com/opencontainers/go-digest"
)

// prober is a repository that can tell whether a blob kept by a worker
// can still be had (repository.Located).
type prober interface {
	Probe(ctx context.Context, d digest.Digest) error
}

// lostInputs returns the tasks whose outputs task t reads and cannot now
// have: gone, those whose outputs no holder has any longer (their worker
// was lost before any copy reached the driver: intermediates are not
// copied there, see collect), and pending, those running again for that
// reason. A repository that holds every blob itself loses nothing, and
// lostInputs asks it nothing.
//
// With pull set, for a task about to start on the primary alloc, whose
// pool reads the run's repository itself, lostInputs also copies each
// input into that repository from the worker that holds it (see
// puller); an input that cannot be copied counts as gone, and its task
// runs again.
func (e *Eval) lostInputs(ctx context.Context, t int32, in map[string]digest.Digest, pull bool) (gone, pending []int32) {
	if len(in) == 0 {
		return nil, nil
	}
	p, ok := e.cfg.Repository.(prober)
	if !ok {
		return nil, nil
	}
	pl, _ := e.cfg.Repository.(puller)
	for _, i := range e.g.Flow.Tasks[t].Inputs {
		if i.Task == "" {
			continue
		}
		j, _ := e.g.Index(i.Task)
		src := int32(j)
		if slices.Contains(gone, src) || slices.Contains(pending, src) {
			continue
		}
		e.mu.Lock()
		state := e.tasks[src].state
		e.mu.Unlock()
		switch {
		case state == cached:
		case state != done:
			pending = append(pending, src)
		case pull && pl != nil:
			if err := pl.Pull(ctx, in[i.Name]); err != nil && ctx.Err() == nil {
				e.cfg.Logger.Info("an input could not be copied to the driver for the primary alloc; running its task again",
					"task", e.g.Flow.Tasks[t].Name, "input", i.Name, "err", err)
				gone = append(gone, src)
			}
		case errors.Is(p.Probe(ctx, in[i.Name]), ebb.ErrNotExist):
			gone = append(gone, src)
		}
	}
	return gone, pending
}

// recompute parks task t, placed on w, until the tasks whose outputs it
// lost have run again: gone ones go back to the ready queue (a try that
// does not count against Attempts), pending ones are already on their
// way. A task the eval waits for that ran again counts once in Progress.
func (e *Eval) recompute(w *worker, t int32, gone, pending []int32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.release(w, t)
	if e.err != nil || e.remaining == 0 {
		return
	}
	if e.redo == nil {
		e.redo = make(map[int32][]int32)
	}
	for _, p := range gone {
		if _, again := e.redo[p]; !again && e.tasks[p].state == done {
			e.cfg.Logger.Info("outputs lost with the worker that held them; running the task again",
				"task", e.g.Flow.Tasks[p].Name, "for", e.g.Flow.Tasks[t].Name)
			e.redo[p] = nil
			e.remaining++
			e.counts.Done--
			e.requeue(p)
		}
	}
	parked := 0
	for _, p := range slices.Concat(gone, pending) {
		if e.tasks[p].state == done {
			continue // done again meanwhile
		}
		if _, again := e.redo[p]; !again {
			e.redo[p] = nil
		}
		e.redo[p] = append(e.redo[p], t)
		parked++
	}
	if parked == 0 {
		e.requeue(t)
		return
	}
	e.tasks[t].state = waiting
	e.waiting[t] += int32(parked)
	e.broadcast()
}

// unpark readies the tasks parked on task p, which has run again. e.mu
// is held.
func (e *Eval) unpark(p int32, parked []int32) {
	delete(e.redo, p)
	for _, c := range parked {
		if e.waiting[c]--; e.waiting[c] == 0 && e.tasks[c].state == waiting {
			e.tasks[c].state = ready
			e.ready.push(e.shapes[c], c)
			e.emitQueued(c)
		}
	}
}
