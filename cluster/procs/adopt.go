package procs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool/remote"
)

// adopt takes over the recorded workers that this provider does not hold:
// those of an earlier provider of the same Dir. It fails only when ctx is
// done or the provider is closed; a worker it cannot adopt is killed.
func (p *Provider) adopt(ctx context.Context) error {
	p.adoptMu.Lock()
	defer p.adoptMu.Unlock()
	recs, err := p.records.Load()
	if err != nil {
		p.cfg.Logger.Warn("procs: reading the worker records", "err", err)
	}
	// The temporary files of records an earlier driver was writing when
	// it died.
	tmps, _ := filepath.Glob(filepath.Join(string(p.records), ".*.tmp*"))
	for _, tmp := range tmps {
		if !strings.HasPrefix(filepath.Base(tmp), "."+p.nonce+"-") {
			os.Remove(tmp)
		}
	}
	for _, rec := range recs {
		p.mu.Lock()
		// The records of this provider's own workers (their IDs carry
		// its nonce) are of workers it holds or is launching.
		closed, held := p.closed, p.workers[rec.ID] != nil || strings.HasPrefix(string(rec.ID), p.nonce+"-")
		p.mu.Unlock()
		if closed {
			return p.errClosed("workers")
		}
		if held {
			continue
		}
		if err := p.adoptOne(ctx, rec); err != nil {
			return err
		}
	}
	return nil
}

// adoptOne adopts the worker of rec, or kills it and forgets it.
func (p *Provider) adoptOne(ctx context.Context, rec cluster.WorkerRecord) error {
	dir := filepath.Join(p.dir, string(rec.ID))
	pid, _ := strconv.Atoi(rec.Handle)
	log := p.cfg.Logger.With("worker", rec.ID, "pid", pid)
	if pid <= 0 || !workerAlive(pid, rec.ID) {
		if pid <= 0 {
			// Recorded before its process started, or just after: find
			// it by its command line.
			pid = findWorker(rec.ID)
		}
		if pid <= 0 {
			log.Info("procs: an earlier driver's worker is gone")
			p.forgetRecord(rec.ID, dir)
			return nil
		}
	}
	w := &proc{
		id: rec.ID, shape: rec.Shape, labels: rec.Labels.Clone(), pid: pid, dir: dir,
		token: rec.Token, url: rec.URL, pin: rec.Pin,
		exitc: make(chan struct{}), donec: make(chan struct{}),
	}
	if sh, ok := p.shape(rec.Shape.Name); ok {
		w.shape = sh
	}
	var c *remote.Client
	err := fmt.Errorf("it never said where it serves: %w", ebb.ErrUnavailable)
	if rec.Up() {
		cfg := p.cfg.Client
		cfg.URL, cfg.Token, cfg.Pin, cfg.Gone = rec.URL, rec.Token, rec.Pin, w.exitc
		dctx, cancel := context.WithTimeout(ctx, p.cfg.Grace)
		c, err = remote.Dial(dctx, cfg)
		cancel()
	}
	p.mu.Lock()
	if p.closed {
		err = errors.Join(err, p.errClosed("workers"))
	}
	ok := err == nil
	if ok {
		p.seq++
		w.seq, w.client = p.seq, c
		p.workers[w.id] = w
		p.wg.Add(1)
	}
	p.mu.Unlock()
	if !ok {
		if c != nil {
			c.Close()
		}
		// Its execs must be dead before their tasks start elsewhere.
		log.Warn("procs: an earlier driver's worker cannot be reached; killing it", "err", err)
		syscall.Kill(-pid, syscall.SIGKILL)
		syscall.Kill(pid, syscall.SIGKILL)
		if werr := p.waitGone(ctx, pid, rec.ID); werr != nil {
			return werr
		}
		p.forgetRecord(rec.ID, dir)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return nil
	}
	go func() {
		defer p.wg.Done()
		p.watch(w)
	}()
	log.Info("procs: adopted an earlier driver's worker", "url", rec.URL)
	return nil
}

// watch waits for an adopted worker's process to end, which no Wait
// reports, then cleans up after it as reap does.
func (p *Provider) watch(w *proc) {
	defer close(w.donec)
	p.waitGone(context.Background(), w.pid, w.id)
	close(w.exitc)
	p.forget(w)
	p.cleanup(w)
	p.cfg.Logger.Info("procs: adopted worker exited", "worker", w.id)
}

// waitGone polls until the worker process pid is gone, or ctx is done.
func (p *Provider) waitGone(ctx context.Context, pid int, id cluster.WorkerID) error {
	t := time.NewTicker(p.cfg.PollInterval)
	defer t.Stop()
	for workerAlive(pid, id) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// forgetRecord removes a dead worker's directory and record.
func (p *Provider) forgetRecord(id cluster.WorkerID, dir string) {
	if err := os.RemoveAll(dir); err != nil {
		p.cfg.Logger.Warn("procs: removing a worker's directory", "worker", id, "err", err)
	}
	if err := p.records.Remove(id); err != nil {
		p.cfg.Logger.Warn("procs: removing a worker's record", "worker", id, "err", err)
	}
}

// workerAlive reports whether pid is a live (not zombie) process of the
// worker named id: its command line carries "-id ID", so that a process
// ID reused by another program is never taken for the worker.
func workerAlive(pid int, id cluster.WorkerID) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which ends with the last ')'.
	if i := bytes.LastIndexByte(stat, ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X' {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && bytes.Contains(cmdline, []byte("\x00-id\x00"+string(id)+"\x00"))
}

// findWorker returns the process ID of the live worker named id, or 0.
func findWorker(id cluster.WorkerID) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && workerAlive(pid, id) {
			return pid
		}
	}
	return 0
}
