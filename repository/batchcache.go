package repository

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/ebbflow/ebb/internal/atomicfile"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

var _ Cache = (*BatchCache)(nil)

// BatchConfig configures a [BatchCache]. The zero value is valid: every
// field has a default.
type BatchConfig struct {
	// Entries is how many entries put since the last sync start one
	// (default 256).
	Entries int
	// Interval is how long an entry waits at most for a sync to start
	// (default one second).
	Interval time.Duration
}

// BatchCache is a [DirCache] whose Puts are synced to stable storage in
// batches (group commit) instead of one at a time. A Put returns once its
// entry is renamed into place: from then on every process sharing the
// root reads it, and it outlives a crash of the process that put it. What
// a crash of the machine (power lost, the kernel gone) may lose is the
// entries put since the last sync: a sync starts once Entries entries
// wait for one, at the latest Interval after the first of them, and on
// every Sync and Close. An entry lost that way, or left half-written
// (ebb.ErrCorrupt on Get), is a result a later run does not find, whose
// task it runs again; nothing else refers to it unsynced, since a State
// is saved only after a Sync (runner.Runner does so).
//
// A DirCache's Put syncs twice before it returns (the entry, then its
// directory), which for a short task takes about as long as its process;
// a BatchCache's Put syncs nothing on its caller's path. Its entries are
// still synced one file at a time, but in the background, many at once,
// and their directories once a batch.
//
// A BatchCache is safe for concurrent use. Get and Delete are the
// DirCache's. Close syncs what is left and stops the syncs in the
// background; a Put after Close syncs its entry before it returns.
type BatchCache struct {
	c   *DirCache
	cfg BatchConfig

	// syncing is held through a sync: a Sync returns only once every
	// entry put before it started is synced, including those that a
	// background sync took first.
	syncing sync.Mutex

	mu      sync.Mutex // guards the fields below
	pending []string   // paths of entries put and not yet synced
	timer   *time.Timer
	running bool  // a background sync runs
	closed  bool  // Close was called
	err     error // of a background sync, for the next Sync to return
	wg      sync.WaitGroup
}

// NewBatchCache returns a BatchCache over c, which it does not own.
func NewBatchCache(c *DirCache, cfg BatchConfig) *BatchCache {
	if cfg.Entries <= 0 {
		cfg.Entries = 256
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	return &BatchCache{c: c, cfg: cfg}
}

// Get returns the result stored for key; see [Cache].
func (b *BatchCache) Get(ctx context.Context, key digest.Digest) (pool.Result, error) {
	return b.c.Get(ctx, key)
}

// Delete removes the result for key; see [Cache]. The removal is synced.
func (b *BatchCache) Delete(ctx context.Context, key digest.Digest) error {
	return b.c.Delete(ctx, key)
}

// Put stores r as the result for key; see [Cache] and [BatchCache] for
// when it is synced.
func (b *BatchCache) Put(ctx context.Context, key digest.Digest, r pool.Result) error {
	if err := checkKey(ctx, key); err != nil {
		return err
	}
	path, err := b.c.put(key, r, false)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.pending = append(b.pending, path)
	closed := b.closed
	if !closed {
		b.scheduleLocked()
	}
	b.mu.Unlock()
	if closed {
		return b.Sync(ctx)
	}
	return nil
}

// scheduleLocked starts a background sync when enough entries wait for
// one, or arms the timer that starts one when the first of them has
// waited Interval. b.mu is held.
func (b *BatchCache) scheduleLocked() {
	switch {
	case len(b.pending) == 0 || b.running:
	case len(b.pending) >= b.cfg.Entries:
		b.startLocked()
	case b.timer == nil:
		b.timer = time.AfterFunc(b.cfg.Interval, b.due)
	}
}

// due is the timer's: the oldest waiting entry has waited Interval.
func (b *BatchCache) due() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.timer = nil
	if !b.closed && len(b.pending) > 0 {
		b.startLocked()
	}
}

// startLocked starts a background sync unless one runs. b.mu is held.
func (b *BatchCache) startLocked() {
	if b.running {
		return
	}
	b.running = true
	b.wg.Go(func() {
		err := b.sync()
		b.mu.Lock()
		defer b.mu.Unlock()
		b.running = false
		if err != nil {
			b.err = err
		}
		if !b.closed {
			b.scheduleLocked()
		}
	})
}

// Sync makes every entry put before it was called durable, and returns
// the first error of a sync since the last Sync, if any: an entry whose
// sync failed is tried again by the next.
func (b *BatchCache) Sync(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("repository: cache sync: %w", err)
	}
	err := b.sync()
	b.mu.Lock()
	if err == nil {
		err = b.err
	}
	b.err = nil
	b.mu.Unlock()
	return err
}

// sync syncs the entries waiting now, after any sync under way.
func (b *BatchCache) sync() error {
	b.syncing.Lock()
	defer b.syncing.Unlock()
	b.mu.Lock()
	paths := b.pending
	b.pending = nil
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	b.mu.Unlock()
	if len(paths) == 0 {
		return nil
	}
	if err := syncEntries(paths); err != nil {
		b.mu.Lock()
		b.pending = append(paths, b.pending...)
		b.mu.Unlock()
		return fmt.Errorf("repository: cache sync: %w", err)
	}
	return nil
}

// syncParallel is how many files syncEntries syncs at once: the device
// serves many syncs at once about as fast as one, so that a batch costs
// about the time of its slowest sync, as the Puts it stands for did when
// each synced its own.
const syncParallel = 64

// syncEntries syncs the files at paths, then their directories, once
// each. A file gone since (deleted) needs no sync.
func syncEntries(paths []string) error {
	dirs := make(map[string]bool)
	for _, p := range paths {
		dirs[filepath.Dir(p)] = true
	}
	if err := syncAll(paths, syncFile); err != nil {
		return err
	}
	return syncAll(slices.Collect(maps.Keys(dirs)), atomicfile.SyncDir)
}

// syncAll calls fn on every path, syncParallel at a time, and returns
// the first error.
func syncAll(paths []string, fn func(string) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan string)
	)
	for range min(len(paths), syncParallel) {
		wg.Go(func() {
			for p := range next {
				if err := fn(p); err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, p := range paths {
		next <- p
	}
	close(next)
	wg.Wait()
	return first
}

// syncFile syncs the file at path, if there is one.
func syncFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close syncs every entry put, waits for the syncs in the background to
// end, and returns Sync's error. Later Puts sync their own entries.
func (b *BatchCache) Close() error {
	b.mu.Lock()
	b.closed = true
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	b.mu.Unlock()
	b.wg.Wait()
	return b.Sync(context.Background())
}
