package repository_test

import (
	"context"
	"reflect"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository"
	"github.com/ebbflow/ebb/repository/repositorytest"
	"github.com/opencontainers/go-digest"
)

// newBatchCache returns a BatchCache on a fresh root, closed (and
// checked for leftovers) when t ends.
func newBatchCache(t *testing.T, cfg repository.BatchConfig) (*repository.BatchCache, string) {
	t.Helper()
	root := t.TempDir()
	c, err := repository.OpenCache(root)
	if err != nil {
		t.Fatal(err)
	}
	b := repository.NewBatchCache(c, cfg)
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if n := repository.Unsynced(b); n != 0 {
			t.Errorf("%d entries unsynced after Close", n)
		}
		repository.CheckNoTemps(t, root)
	})
	return b, root
}

// TestBatchCacheConformance runs the Cache conformance suite on a
// BatchCache that syncs every third entry.
func TestBatchCacheConformance(t *testing.T) {
	repositorytest.RunCache(t, repositorytest.CacheConfig{
		New: func(t *testing.T) repository.Cache {
			b, _ := newBatchCache(t, repository.BatchConfig{Entries: 3, Interval: time.Hour})
			return b
		},
	})
}

func batchResult(i int) (digest.Digest, pool.Result) {
	start := time.Date(2026, 12, 5, 0, 0, i, 0, time.UTC)
	return digest.FromString("task " + string(rune('a'+i))), pool.Result{Start: start, End: start.Add(time.Second)}
}

// An entry is in place when Put returns, before any sync: a process that
// opens the cache next, as a run resumed after this one was killed does,
// finds it.
func TestBatchCachePutSeenBeforeSync(t *testing.T) {
	b, root := newBatchCache(t, repository.BatchConfig{Entries: 100, Interval: time.Hour})
	key, want := batchResult(0)
	if err := b.Put(t.Context(), key, want); err != nil {
		t.Fatal(err)
	}
	if n := repository.Unsynced(b); n != 1 {
		t.Fatalf("%d entries unsynced after one Put, want 1", n)
	}
	other, err := repository.OpenCache(root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := other.Get(t.Context(), key)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("another cache on the root: Get = %+v, %v; want %+v", got, err, want)
	}
}

// A sync starts once Entries entries wait, and at the latest Interval
// after the first.
func TestBatchCacheSyncs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries int
		puts    int
		wait    time.Duration
	}{
		{"full batch", 4, 4, 0},
		{"interval", 100, 1, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, _ := newBatchCache(t, repository.BatchConfig{Entries: tc.entries, Interval: time.Second})
				for i := range tc.puts {
					key, r := batchResult(i)
					if err := b.Put(t.Context(), key, r); err != nil {
						t.Fatal(err)
					}
				}
				time.Sleep(tc.wait - time.Nanosecond)
				synctest.Wait()
				if tc.wait > 0 {
					if n := repository.Unsynced(b); n != tc.puts {
						t.Fatalf("%d entries unsynced before the interval, want %d", n, tc.puts)
					}
					time.Sleep(time.Nanosecond)
					synctest.Wait()
				}
				if n := repository.Unsynced(b); n != 0 {
					t.Errorf("%d entries unsynced, want none", n)
				}
			})
		})
	}
}

// Sync syncs what waits, an entry deleted meanwhile included, and a Put
// after Close syncs its own entry.
func TestBatchCacheSyncAndClose(t *testing.T) {
	b, _ := newBatchCache(t, repository.BatchConfig{Entries: 100, Interval: time.Hour})
	ctx := t.Context()
	for i := range 3 {
		key, r := batchResult(i)
		if err := b.Put(ctx, key, r); err != nil {
			t.Fatal(err)
		}
	}
	gone, _ := batchResult(1)
	if err := b.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if n := repository.Unsynced(b); n != 0 {
		t.Errorf("%d entries unsynced after Sync, want none", n)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	key, r := batchResult(3)
	if err := b.Put(ctx, key, r); err != nil {
		t.Fatal(err)
	}
	if n := repository.Unsynced(b); n != 0 {
		t.Errorf("%d entries unsynced after a Put past Close, want none", n)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Sync(canceled); err == nil {
		t.Error("Sync with a done context succeeded")
	}
}
