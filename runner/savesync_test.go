package runner

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository"
	"github.com/opencontainers/go-digest"
)

// batchCache is a cache that syncs its entries in batches, as
// repository.BatchCache does: it counts the entries put since its last
// Sync.
type batchCache struct {
	*memCache
	mu       sync.Mutex
	unsynced int
}

func (c *batchCache) Put(ctx context.Context, key digest.Digest, r pool.Result) error {
	c.mu.Lock()
	c.unsynced++
	c.mu.Unlock()
	return c.memCache.Put(ctx, key, r)
}

func (c *batchCache) Sync(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unsynced = 0
	return nil
}

// syncedStore is a StateStore that records, for every State saved, how
// many entries of its cache were then unsynced.
type syncedStore struct {
	memStore
	cache    *batchCache
	unsynced []int
}

func (s *syncedStore) Save(ctx context.Context, st *State) error {
	s.cache.mu.Lock()
	n := s.cache.unsynced
	s.cache.mu.Unlock()
	s.mu.Lock()
	s.unsynced = append(s.unsynced, n)
	s.mu.Unlock()
	return s.memStore.Save(ctx, st)
}

// A State is saved only once every result put in the cache before it
// is synced: the Done State, which counts the results and names the
// outputs, never reaches the disk ahead of them, and a crash between
// two saves loses only what the saved State does not count on.
func TestSaveSyncsCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := memPool(t, ebb.Resources{ebb.CPU: 4, ebb.Mem: 8 << 30})
		flow := c.diamond(6, oneCPU)
		for i := range flow.Tasks {
			flow.Tasks[i].Func = slowFunc(&c, flow.Tasks[i].Name, time.Minute)
		}
		cache := &batchCache{memCache: newMemCache()}
		store := &syncedStore{cache: cache}
		r, err := New(Config{Flow: flow, Cluster: static(p), Cache: cache, Store: store}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := cache.len(); got < len(flow.Tasks) {
			t.Fatalf("%d results in the cache, want at least %d", got, len(flow.Tasks))
		}
		if len(store.saved) == 0 || store.saved[len(store.saved)-1].Phase != PhaseDone {
			t.Fatalf("last State saved is not done: %+v", store.saved)
		}
		for i, n := range store.unsynced {
			if n != 0 {
				t.Errorf("save %d (phase %s): %d results unsynced", i, store.saved[i].Phase, n)
			}
		}
	})
}

// neverSynced is a cache whose Sync the runner cannot see: a crash of the
// driver before any sync of a repository.BatchCache.
type neverSynced struct{ repository.Cache }

// A run stopped as by a crash of its driver, its batched results never
// synced, resumes in a new Runner, on a cache opened anew on the same
// root (as another process would), and finds every task that finished:
// none runs twice.
func TestResumeFindsUnsyncedResults(t *testing.T) {
	root := t.TempDir()
	dc, err := repository.OpenCache(root)
	if err != nil {
		t.Fatal(err)
	}
	batched := repository.NewBatchCache(dc, repository.BatchConfig{Entries: 1000, Interval: time.Hour})
	t.Cleanup(func() { batched.Close() })
	var c counter
	started := make(chan struct{})
	var once sync.Once
	block := true
	flow := &ebb.Flow{Name: "crash", Tasks: []ebb.Task{
		c.task("first", oneCPU, nil),
		c.task("second", oneCPU, func(ctx context.Context) error {
			if !block {
				return nil
			}
			once.Do(func() { close(started) })
			<-ctx.Done()
			return ctx.Err()
		}, "first"),
	}}
	p := memPool(t, ebb.Resources{ebb.CPU: 2, ebb.Mem: 1 << 30})
	store := &memStore{}
	r, err := New(Config{Flow: flow, Cluster: static(p), Cache: neverSynced{batched}, Store: store}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	<-started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("first Run = %v, want it canceled", err)
	}

	block = false
	state, err := store.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	again, err := repository.OpenCache(root)
	if err != nil {
		t.Fatal(err)
	}
	r, err = New(Config{Flow: flow, Cluster: static(p), Cache: again, Store: store}, state)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := c.get("first"); n != 1 {
		t.Errorf("first ran %d times, want once: its unsynced result was not found", n)
	}
	if res := r.State().Result; res == nil || res.Cached != 1 {
		t.Errorf("resumed run's result %+v, want the first task from the cache", res)
	}
}
