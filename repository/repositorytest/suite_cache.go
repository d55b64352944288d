package repositorytest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository"
	"github.com/opencontainers/go-digest"
)

// CacheConfig says how [RunCache] makes the caches under test.
type CacheConfig struct {
	// New returns a fresh, empty cache. RunCache calls it once per
	// subtest with that subtest's t; New registers whatever releases the
	// cache (and checks it left nothing behind) with t.Cleanup.
	New func(t *testing.T) repository.Cache
}

// RunCache checks that the caches cfg.New makes keep the
// [repository.Cache] contract, failing a named subtest for every breach:
//
//	PutGet         Get returns what Put stored, and a later Put replaces it
//	Keys           each key has its own result
//	NotExist       Get of a key with no result is ebb.ErrNotExist
//	Delete         Delete removes a result; deleting an absent key is no error
//	Ownership      results go in and come out as copies
//	InvalidKey     a malformed or non-sha256 key is ebb.ErrInvalid, named
//	InvalidResult  Put refuses what repository.ValidateResult refuses, storing nothing
//	Canceled       a done context fails every call with its error, changing nothing
//	Concurrent     concurrent Gets see no result or one whole result that was put
//
// Results are compared with reflect.DeepEqual; the suite's have UTC times
// and no empty maps, which any encoding gives back as they are.
func RunCache(t *testing.T, cfg CacheConfig) {
	t.Helper()
	if cfg.New == nil {
		t.Fatal("repositorytest.RunCache: CacheConfig.New is nil")
	}
	s := &cacheSuite{cfg}
	t.Run("PutGet", s.testPutGet)
	t.Run("Keys", s.testKeys)
	t.Run("NotExist", s.testNotExist)
	t.Run("Delete", s.testDelete)
	t.Run("Ownership", s.testOwnership)
	t.Run("InvalidKey", s.testInvalidKey)
	t.Run("InvalidResult", s.testInvalidResult)
	t.Run("Canceled", s.testCanceled)
	t.Run("Concurrent", s.testConcurrent)
}

type cacheSuite struct {
	CacheConfig
}

func (s *cacheSuite) newCache(t *testing.T) repository.Cache {
	t.Helper()
	c := s.New(t)
	if c == nil {
		t.Fatal("CacheConfig.New returned a nil cache")
	}
	return c
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// okResult and failedResult return results with every field a cache must
// keep; each call returns fresh maps.
func okResult() pool.Result {
	return pool.Result{
		ExitCode:  0,
		Start:     t0,
		End:       t0.Add(90 * time.Second),
		Stdout:    "done\n",
		Outputs:   map[string]digest.Digest{"out/a.txt": digest.FromString("a"), "b": digest.FromString("b")},
		Resources: ebb.Resources{ebb.CPU: 2, ebb.Mem: 1 << 30},
	}
}

func failedResult() pool.Result {
	return pool.Result{
		ExitCode:  -1,
		Error:     "killed",
		Killed:    true,
		Transient: true,
		Start:     t0,
		End:       t0.Add(time.Second),
		Stderr:    "no such file: \"in\"\n",
	}
}

func (s *cacheSuite) testPutGet(t *testing.T) {
	c := s.newCache(t)
	key := digest.FromString("task")
	for _, want := range []pool.Result{okResult(), failedResult(), {}, okResult()} {
		cachePut(t, c, key, want)
		if got := cacheGet(t, c, key); !reflect.DeepEqual(got, want) {
			t.Errorf("Get after Put:\n got %+v\nwant %+v", got, want)
		}
	}
}

func (s *cacheSuite) testKeys(t *testing.T) {
	c := s.newCache(t)
	a, b := digest.FromString("task a"), digest.FromString("task b")
	cachePut(t, c, a, okResult())
	cachePut(t, c, b, failedResult())
	if got := cacheGet(t, c, a); !reflect.DeepEqual(got, okResult()) {
		t.Errorf("Get(a) = %+v, want the result put for a", got)
	}
	if got := cacheGet(t, c, b); !reflect.DeepEqual(got, failedResult()) {
		t.Errorf("Get(b) = %+v, want the result put for b", got)
	}
	if err := c.Delete(t.Context(), a); err != nil {
		t.Fatalf("Delete(a): %v", err)
	}
	if got := cacheGet(t, c, b); !reflect.DeepEqual(got, failedResult()) {
		t.Errorf("after Delete(a), Get(b) = %+v, want the result put for b", got)
	}
}

func (s *cacheSuite) testNotExist(t *testing.T) {
	c := s.newCache(t)
	cachePut(t, c, digest.FromString("another task"), okResult())
	key := digest.FromString("task")
	if r, err := c.Get(t.Context(), key); !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("Get of a key with no result = %+v, %v; want an error wrapping ebb.ErrNotExist", r, err)
	}
}

func (s *cacheSuite) testDelete(t *testing.T) {
	c := s.newCache(t)
	ctx := t.Context()
	key := digest.FromString("task")
	cachePut(t, c, key, okResult())
	if err := c.Delete(ctx, key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if r, err := c.Get(ctx, key); !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("Get after Delete = %+v, %v; want ebb.ErrNotExist", r, err)
	}
	if err := c.Delete(ctx, key); err != nil {
		t.Errorf("Delete of a key with no result: %v, want nil", err)
	}
	cachePut(t, c, key, failedResult())
	if got := cacheGet(t, c, key); !reflect.DeepEqual(got, failedResult()) {
		t.Errorf("Get after Delete and Put = %+v, want the new result", got)
	}
}

func (s *cacheSuite) testOwnership(t *testing.T) {
	c := s.newCache(t)
	key := digest.FromString("task")
	mine := okResult()
	cachePut(t, c, key, mine)
	mine.Outputs["out/a.txt"] = digest.FromString("changed after Put")
	mine.Resources[ebb.CPU] = 99
	if got := cacheGet(t, c, key); !reflect.DeepEqual(got, okResult()) {
		t.Errorf("changing a result after Put changed the cache: Get = %+v", got)
	}
	got := cacheGet(t, c, key)
	got.Outputs["out/a.txt"] = digest.FromString("changed after Get")
	got.Resources[ebb.CPU] = 99
	if again := cacheGet(t, c, key); !reflect.DeepEqual(again, okResult()) {
		t.Errorf("changing a result Get returned changed the cache: Get = %+v", again)
	}
}

func (s *cacheSuite) testInvalidKey(t *testing.T) {
	c := s.newCache(t)
	ctx := t.Context()
	for _, key := range badDigests {
		_, err := protect(func() (pool.Result, error) { return c.Get(ctx, key) })
		checkInvalid(t, "Get", key, err)
		_, err = protect(func() (struct{}, error) { return struct{}{}, c.Put(ctx, key, okResult()) })
		checkInvalid(t, "Put", key, err)
		_, err = protect(func() (struct{}, error) { return struct{}{}, c.Delete(ctx, key) })
		checkInvalid(t, "Delete", key, err)
	}
}

func (s *cacheSuite) testInvalidResult(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    pool.Result
		want string // in the message
	}{
		{"output digest", pool.Result{Outputs: map[string]digest.Digest{"out": "sha256:nope"}}, `"sha256:nope"`},
		{"output name", pool.Result{Outputs: map[string]digest.Digest{"../out": digest.FromString("x")}}, `"../out"`},
		{"absolute output", pool.Result{Outputs: map[string]digest.Digest{"/out": digest.FromString("x")}}, `"/out"`},
		{"resources", pool.Result{Resources: ebb.Resources{ebb.CPU: -1}}, "cpu=-1"},
		{"time", pool.Result{End: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, "year"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if repository.ValidateResult(tc.r) == nil {
				t.Fatalf("repository.ValidateResult(%+v) = nil; the case is wrong", tc.r)
			}
			c := s.newCache(t)
			key := digest.FromString("task")
			err := c.Put(t.Context(), key, tc.r)
			if !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Put = %v, want an error wrapping ebb.ErrInvalid naming %s", err, tc.want)
			}
			if r, err := c.Get(t.Context(), key); !errors.Is(err, ebb.ErrNotExist) {
				t.Errorf("after a refused Put, Get = %+v, %v; want ebb.ErrNotExist", r, err)
			}
		})
	}
}

func (s *cacheSuite) testCanceled(t *testing.T) {
	c := s.newCache(t)
	stored, fresh := digest.FromString("stored task"), digest.FromString("fresh task")
	cachePut(t, c, stored, okResult())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	canceled := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a done context: %v, want an error wrapping context.Canceled", op, err)
		}
	}
	canceled("Put", c.Put(ctx, fresh, okResult()))
	canceled("Put over a result", c.Put(ctx, stored, failedResult()))
	_, err := c.Get(ctx, stored)
	canceled("Get", err)
	canceled("Delete", c.Delete(ctx, stored))

	if r, err := c.Get(t.Context(), fresh); !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("after a Put with a done context, Get = %+v, %v; want ebb.ErrNotExist", r, err)
	}
	if got := cacheGet(t, c, stored); !reflect.DeepEqual(got, okResult()) {
		t.Errorf("after a Put and a Delete with a done context, Get = %+v, want the result stored before", got)
	}
}

// testConcurrent has writers replace one result while readers read it:
// every read finds no result (before the first write) or one whole result
// that a writer put, and the last result is one of them.
func (s *cacheSuite) testConcurrent(t *testing.T) {
	c := s.newCache(t)
	key := digest.FromString("task")
	const writers, readers, rounds = 8, 8, 20
	written := make(map[string]bool) // by Stdout
	for w := range writers {
		written[fmt.Sprintf("writer %d", w)] = true
	}
	var wg sync.WaitGroup
	errc := make(chan error, writers+readers)
	for w := range writers {
		wg.Go(func() {
			r := okResult()
			r.Stdout = fmt.Sprintf("writer %d", w)
			for range rounds {
				if err := c.Put(context.Background(), key, r); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	for range readers {
		wg.Go(func() {
			for range rounds {
				r, err := c.Get(context.Background(), key)
				if errors.Is(err, ebb.ErrNotExist) {
					continue
				}
				if err != nil {
					errc <- err
					return
				}
				want := okResult()
				want.Stdout = r.Stdout
				if !written[r.Stdout] || !reflect.DeepEqual(r, want) {
					errc <- fmt.Errorf("read a result that was never put: %+v", r)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if r := cacheGet(t, c, key); !written[r.Stdout] {
		t.Errorf("final result %+v was never put", r)
	}
}

func cachePut(t *testing.T, c repository.Cache, key digest.Digest, r pool.Result) {
	t.Helper()
	if err := c.Put(context.Background(), key, r); err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
}

func cacheGet(t *testing.T, c repository.Cache, key digest.Digest) pool.Result {
	t.Helper()
	r, err := c.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	return r
}
