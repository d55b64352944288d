package local

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// Pool is the pool of this machine. Make one with New and end it with
// Close; the zero value is not usable. A Pool is safe for concurrent use.
type Pool struct {
	cfg       Config        // with defaults; read-only
	dir       string        // absolute; read-only
	ownDir    bool          // dir is a temporary directory that Close removes
	nonce     string        // random, chosen at New: part of every alloc and offer ID
	capacity  ebb.Resources // read-only
	lock      *os.File      // holds the flock on dir
	devnull   *os.File      // every command exec's stdin
	devnullFd uintptr       // devnull's descriptor
	pipeBufs  sync.Pool     // *[pipeBufSize]byte, to read commands' pipes with
	contain   *container    // how command execs are contained
	log       *slog.Logger

	// mu guards the allocation table: the fields below, and nothing else.
	// It is taken before an alloc's mutex, never after.
	mu      sync.Mutex
	allocs  map[string]*alloc // live allocs and ending ones whose resources are not yet back
	used    ebb.Resources     // Σ allocs' resources
	version uint64            // bumped whenever allocs change; names the offer
	seq     uint64            // numbers allocs
	closed  bool

	cleanup    sync.Once
	cleanupErr error
}

var _ pool.Pool = (*Pool)(nil)

// New returns the pool described by cfg, with the defaults of [Config]
// filled in. It fails with an error wrapping ebb.ErrInvalid that names the
// field when cfg is malformed, and with ebb.ErrUnavailable when another
// live pool holds cfg.Dir. Allocs left in cfg.Dir by an earlier pool are
// removed, not recovered (see the package doc).
func New(cfg Config) (*Pool, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Pool{
		cfg:    cfg,
		dir:    cfg.Dir,
		log:    cfg.Logger.With("pool", cfg.ID),
		allocs: make(map[string]*alloc),
	}
	if p.dir == "" {
		if p.dir, err = os.MkdirTemp("", "ebb-local-"); err != nil {
			return nil, fmt.Errorf("local: temporary Dir: %w", err)
		}
		p.ownDir = true
	}
	ok := false
	defer func() {
		if !ok {
			p.closeFiles()
		}
	}()
	lock, stale, err := openDir(p.dir)
	if err != nil {
		return nil, err
	}
	p.lock = lock
	if stale > 0 {
		p.log.Info("removed allocs of an earlier pool", "dir", p.dir, "allocs", stale)
	}
	p.capacity = cfg.Resources
	if len(p.capacity) == 0 {
		if p.capacity, err = machineResources(p.dir); err != nil {
			return nil, fmt.Errorf("local: reading this machine's resources: %w", err)
		}
	}
	if p.devnull, err = os.Open(os.DevNull); err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	p.devnullFd = p.devnull.Fd()
	p.pipeBufs.New = func() any { return new([pipeBufSize]byte) }
	var b [6]byte
	rand.Read(b[:])
	p.nonce = hex.EncodeToString(b[:])
	if p.contain, err = newContainer(p.nonce, cfg.contain); err != nil {
		return nil, fmt.Errorf("local: containing execs: %w", err)
	}
	ok = true
	p.log.Info("pool ready", "dir", p.dir, "capacity", p.capacity, "containment", p.contain.mode)
	return p, nil
}

// ID returns Config.ID.
func (p *Pool) ID() string { return p.cfg.ID }

// Capacity returns the pool's one node: Config.Resources, or what New read
// from the machine. It fails with ebb.ErrClosed after Close.
func (p *Pool) Capacity(ctx context.Context) ([]ebb.Resources, error) {
	if err := p.check(ctx); err != nil {
		return nil, err
	}
	return []ebb.Resources{p.capacity.Clone()}, nil
}

// Alloc returns the live alloc with the given ID. It fails with
// ebb.ErrNotExist when there is none (never was, freed, expired, or given
// out by an earlier pool), and with ebb.ErrClosed after Close.
func (p *Pool) Alloc(ctx context.Context, id string) (pool.Alloc, error) {
	if err := p.check(ctx); err != nil {
		return nil, err
	}
	p.mu.Lock()
	a := p.allocs[id]
	p.mu.Unlock()
	if a == nil || a.state.Load() != live {
		return nil, fmt.Errorf("local: pool %s: alloc %q: %w", p.cfg.ID, id, ebb.ErrNotExist)
	}
	return a, nil
}

// Allocs returns the live allocs, oldest first. It fails with
// ebb.ErrClosed after Close.
func (p *Pool) Allocs(ctx context.Context) ([]pool.Alloc, error) {
	if err := p.check(ctx); err != nil {
		return nil, err
	}
	p.mu.Lock()
	all := slices.Collect(maps.Values(p.allocs))
	p.mu.Unlock()
	slices.SortFunc(all, func(a, b *alloc) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]pool.Alloc, 0, len(all))
	for _, a := range all {
		if a.state.Load() == live {
			out = append(out, a)
		}
	}
	return out, nil
}

// Close frees every alloc, which kills every exec and waits for them to
// end; then it unlocks Dir and, when New made it, removes it. Afterwards
// every method of the pool but ID fails with ebb.ErrClosed, and the pool
// has no process or goroutine left. If ctx ends first, Close returns its
// error while the allocs go on ending; a later Close waits for them again
// and finishes the job. Close may be called more than once.
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	all := slices.Collect(maps.Values(p.allocs))
	p.mu.Unlock()
	for _, a := range all {
		why := fmt.Errorf("local: alloc %s: pool %s closed: %w (%w)", a.id, p.cfg.ID, ebb.ErrExpired, ebb.ErrClosed)
		if end, ok := a.beginEnd(why); ok {
			go a.end(end)
		}
	}
	for _, a := range all {
		select {
		case <-a.gonec:
		case <-ctx.Done():
			return fmt.Errorf("local: closing pool %s: %w", p.cfg.ID, ctx.Err())
		}
	}
	p.cleanup.Do(func() {
		p.cleanupErr = p.closeFiles()
		p.log.Info("pool closed")
	})
	return p.cleanupErr
}

// closeFiles releases the directory and the files New opened.
func (p *Pool) closeFiles() error {
	var errs []error
	if p.contain != nil {
		errs = append(errs, p.contain.close())
	}
	if p.devnull != nil {
		errs = append(errs, p.devnull.Close())
	}
	if p.lock != nil {
		errs = append(errs, p.lock.Close())
	}
	if p.ownDir {
		errs = append(errs, os.RemoveAll(p.dir))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("local: closing pool %s: %w", p.cfg.ID, err)
	}
	return nil
}

// check fails when ctx is done or the pool closed.
func (p *Pool) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return fmt.Errorf("local: pool %s: %w", p.cfg.ID, ebb.ErrClosed)
	}
	return nil
}

// release takes an ended alloc out of the table and returns its resources.
func (p *Pool) release(a *alloc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.allocs, a.id)
	p.used = p.used.Sub(a.res)
	if len(p.allocs) == 0 {
		p.used = nil // no rounding left over from the additions
	}
	p.version++
}

// allocDir is where the alloc with the given ID keeps its execs' files.
func (p *Pool) allocDir(id string) string {
	return filepath.Join(p.dir, allocsName, id)
}
