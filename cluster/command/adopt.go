package command

import (
	"context"
	"fmt"

	"github.com/ebbflow/ebb/cluster"
)

// save records w in Config.Dir, if set.
func (p *Provider) save(w *worker) error {
	if p.records == "" {
		return nil
	}
	rec := cluster.WorkerRecord{ID: w.id, Shape: w.shape, Labels: w.labels, Handle: w.handle, Token: w.exp.Token()}
	if a, ok := w.exp.Announced(); ok {
		rec.URL, rec.Pin = a.URL, a.Pin
	}
	if err := p.records.Save(rec); err != nil {
		return fmt.Errorf("command: launch %s: %w", w.shape.Name, err)
	}
	return nil
}

// adoptOthers takes over the workers recorded in Config.Dir by an earlier
// provider: each one that List still shows (every one, without List) and
// that answers where its record says, with its token and pin. The others
// are stopped with Stop, given their recorded handle, and their records
// removed; adoptOthers returns once each Stop has returned. It returns
// the IDs adopted, and fails when a Stop fails.
func (p *Provider) adoptOthers(ctx context.Context, recs []cluster.WorkerRecord, listed map[cluster.WorkerID]bool) (map[cluster.WorkerID]bool, error) {
	adopted := make(map[cluster.WorkerID]bool)
	for _, rec := range recs {
		if listed != nil && !listed[rec.ID] {
			p.records.Remove(rec.ID)
			continue
		}
		err := p.adoptOne(ctx, rec)
		if err == nil {
			adopted[rec.ID] = true
			continue
		}
		p.cfg.Logger.Warn("command: an earlier driver's worker cannot be adopted; stopping it", "worker", rec.ID, "err", err)
		w := &worker{id: rec.ID, shape: rec.Shape, labels: rec.Labels, handle: rec.Handle}
		var argv []string
		argv, err = p.cmds.stop.render(newData(string(w.id), w.handle, w.shape, w.labels, nil))
		if err == nil {
			_, err = run(ctx, p.cfg.Timeout, argv, []string{"EBB_WORKER_ID=" + string(w.id)})
		}
		if err != nil {
			return nil, fmt.Errorf("command: stopping %s, an earlier driver's worker: Stop %w", w.id, err)
		}
		p.records.Remove(rec.ID)
	}
	return adopted, nil
}

// earlier returns the records in Config.Dir and, when there are some and
// a List command, the IDs List shows (nil without List).
func (p *Provider) earlier(ctx context.Context) ([]cluster.WorkerRecord, map[cluster.WorkerID]bool, error) {
	if p.records == "" {
		return nil, nil, nil
	}
	recs, err := p.records.Load()
	if err != nil {
		p.cfg.Logger.Warn("command: reading the worker records", "err", err)
	}
	if len(recs) == 0 || len(p.cmds.list.args) == 0 {
		return recs, nil, nil
	}
	listed, err := p.list(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("command: finding an earlier driver's workers: %w", err)
	}
	return recs, listed, nil
}

// adoptOne connects to the worker of rec and holds it.
func (p *Provider) adoptOne(ctx context.Context, rec cluster.WorkerRecord) error {
	if !rec.Up() {
		return fmt.Errorf("its record says not where it serves")
	}
	if sh, ok := cluster.FindShape(p.cfg.Shapes, rec.Shape.Name); ok {
		rec.Shape = sh
	}
	exp, err := p.boot.Adopt(rec)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	c, err := exp.Wait(wctx)
	cancel()
	if err != nil {
		p.boot.Forget(rec.ID)
		return err
	}
	w := &worker{id: rec.ID, shape: rec.Shape, labels: rec.Labels.Clone(), exp: exp, handle: rec.Handle, client: c}
	p.mu.Lock()
	p.workers[w.id] = w
	p.mu.Unlock()
	p.cfg.Logger.Info("command: adopted an earlier driver's worker", "worker", w.id, "handle", w.handle, "url", rec.URL)
	return nil
}
