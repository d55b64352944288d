package procs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
)

// Provider launches workers as child processes of this one, each serving
// its pool on loopback to a remote.Client. See the package doc.
//
// A Provider is safe for concurrent use. Its mutex guards the table of
// workers and the closed flag, and is never held while a process starts,
// stops or answers. Every worker has a goroutine or two (see the package
// doc), which end when its process has exited. Make one with New, and
// Close it to stop every worker.
type Provider struct {
	cfg    Config
	dir    string
	ownDir bool
	nonce  string // part of every worker ID, so providers sharing a Dir do not collide
	// records keeps a WorkerRecord of every worker launched, in Dir,
	// for a later provider to adopt.
	records cluster.RecordDir
	adoptMu sync.Mutex // one adoption at a time

	mu      sync.Mutex
	workers map[cluster.WorkerID]*proc // launched, up, not yet terminated or exited
	seq     int
	closed  bool
	wg      sync.WaitGroup // every worker's goroutines
}

var _ cluster.Provider = (*Provider)(nil)

// New returns a provider of cfg, with the defaults filled in. It fails
// with an error wrapping ebb.ErrInvalid, naming the field, when cfg is
// malformed. It starts nothing.
func New(cfg Config) (*Provider, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Provider{cfg: cfg, dir: cfg.Dir, workers: make(map[cluster.WorkerID]*proc)}
	if p.dir == "" {
		if p.dir, err = os.MkdirTemp("", "ebb-procs-"); err != nil {
			return nil, fmt.Errorf("procs: temporary Dir: %w", err)
		}
		p.ownDir = true
	} else if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return nil, fmt.Errorf("procs: Config.Dir: %w", err)
	}
	p.records = cluster.RecordDir(filepath.Join(p.dir, "records"))
	var b [4]byte
	rand.Read(b[:])
	p.nonce = hex.EncodeToString(b[:])
	return p, nil
}

// Shapes returns the configured shapes, in fresh memory.
func (p *Provider) Shapes() []cluster.Shape { return cluster.CloneShapes(p.cfg.Shapes) }

// shape returns the configured shape of the given name.
func (p *Provider) shape(name string) (cluster.Shape, bool) {
	return cluster.FindShape(p.cfg.Shapes, name)
}

// Workers lists the workers that are up, in the order they were launched
// or adopted. A worker whose process exited is not listed.
//
// Workers adopts the workers of an earlier provider of the same Dir (a
// driver that died, and is resumed): it reads their records (see
// cluster.WorkerRecord, kept in Dir/records with mode 0600), and connects
// to each one whose process still runs. One that runs but cannot be
// reached (it died before it listened, or does not answer) is killed with
// its process group, and Workers returns once it is gone; so is the
// directory and the record of every worker found dead. Adopted workers
// are not this process's children: Terminate signals them, and the
// provider notices their end by polling, every PollInterval.
func (p *Provider) Workers(ctx context.Context) ([]cluster.Worker, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := p.adopt(ctx); err != nil {
		return nil, err
	}
	p.mu.Lock()
	procs := make([]*proc, 0, len(p.workers))
	for _, w := range p.workers {
		if !w.exited() {
			procs = append(procs, w)
		}
	}
	p.mu.Unlock()
	slices.SortFunc(procs, func(a, b *proc) int { return a.seq - b.seq })
	out := make([]cluster.Worker, len(procs))
	for i, w := range procs {
		out[i] = w.worker()
	}
	return out, nil
}

// Close terminates every worker (see Terminate), waits for their
// goroutines, and removes Dir if New made it. A Launch during or after
// Close fails with ebb.ErrClosed, leaving nothing. Close may be called
// more than once.
func (p *Provider) Close(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	ids := make([]cluster.WorkerID, 0, len(p.workers))
	for id := range p.workers {
		ids = append(ids, id)
	}
	p.mu.Unlock()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, id := range ids {
		wg.Go(func() {
			if err := p.Terminate(ctx, id); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	p.wg.Wait()
	if p.ownDir {
		errs = append(errs, os.RemoveAll(p.dir))
	}
	return errors.Join(errs...)
}

// forget takes an exited worker out of the table and closes its client's
// idle connections.
func (p *Provider) forget(w *proc) {
	p.mu.Lock()
	if p.workers[w.id] == w {
		delete(p.workers, w.id)
	}
	c := w.client
	p.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

func (p *Provider) errClosed(op string) error {
	return fmt.Errorf("procs: %s: provider closed: %w", op, ebb.ErrClosed)
}
