package repositorytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/proctest"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository"
	"github.com/opencontainers/go-digest"
)

// The suites are only as good as the breaches they catch. Each bug below
// breaks the memory Store or Cache in one way; TestSuitesCatchBrokenFakes
// runs both suites against it in a child process (they take a real
// *testing.T, whose failures would fail this test) and checks that the
// subtests named fail.
const brokenEnv = "REPOSITORYTEST_BROKEN"

var bugs = []struct {
	bug      string
	wantFail []string // subtests of TestBrokenChild that must fail
}{
	{"none", nil},
	{"get-unverified", []string{"Store/Corrupt"}},
	{"getfile-unverified-in-place", []string{"Store/Corrupt"}},
	{"missing-is-fs-error", []string{"Store/NotExist"}},
	{"stat-accepts-bad-digests", []string{"Store/Invalid"}},
	{"put-ignores-context", []string{"Store/Canceled", "Store/PutFails/canceled_while_reading"}},
	{"failed-put-stores", []string{"Store/PutFails/reader_fails"}},
	{"put-shares-buffer", []string{"Store/Concurrent"}},
	{"getfile-writable", []string{"Store/GetFile"}},
	{"cache-shares-results", []string{"Cache/Ownership"}},
	{"cache-keeps-invalid", []string{"Cache/InvalidResult"}},
	{"cache-delete-absent-fails", []string{"Cache/Delete"}},
	{"cache-one-slot", []string{"Cache/Keys", "Cache/NotExist"}},
}

// TestBrokenChild runs the suites against the broken fakes named by the
// environment; it is skipped unless TestSuitesCatchBrokenFakes runs it.
func TestBrokenChild(t *testing.T) {
	bug := os.Getenv(brokenEnv)
	if bug == "" {
		t.Skip("run by TestSuitesCatchBrokenFakes")
	}
	t.Run("Store", func(t *testing.T) {
		RunStore(t, StoreConfig{
			New: func(t *testing.T) repository.Store { return &brokenStore{Store: NewStore(), bug: bug} },
			Damage: func(t *testing.T, s repository.Store, d digest.Digest, content []byte) {
				s.(*brokenStore).Damage(d, content)
			},
		})
	})
	t.Run("Cache", func(t *testing.T) {
		RunCache(t, CacheConfig{
			New: func(t *testing.T) repository.Cache { return &brokenCache{Cache: NewCache(), bug: bug} },
		})
	})
}

func TestSuitesCatchBrokenFakes(t *testing.T) {
	for _, b := range bugs {
		t.Run(b.bug, func(t *testing.T) {
			t.Parallel()
			proctest.CheckBroken(t, "TestBrokenChild", brokenEnv+"="+b.bug, b.wantFail)
		})
	}
}

// brokenStore is a memory Store with one bug.
type brokenStore struct {
	*Store
	bug     string
	scratch bytes.Buffer // for put-shares-buffer, unguarded
}

func (s *brokenStore) Get(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
	switch s.bug {
	case "get-unverified":
		if err := checkDigest(ctx, "get", d); err != nil {
			return nil, err
		}
		b, err := s.blob("get", d)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(b)), nil
	case "missing-is-fs-error":
		if _, err := s.Store.Stat(ctx, d); errors.Is(err, ebb.ErrNotExist) {
			return nil, fmt.Errorf("get %s: %w", d, fs.ErrNotExist)
		}
	}
	return s.Store.Get(ctx, d)
}

func (s *brokenStore) Stat(ctx context.Context, d digest.Digest) (repository.Info, error) {
	switch s.bug {
	case "missing-is-fs-error":
		info, err := s.Store.Stat(ctx, d)
		if errors.Is(err, ebb.ErrNotExist) {
			err = fmt.Errorf("stat %s: %w", d, fs.ErrNotExist)
		}
		return info, err
	case "stat-accepts-bad-digests":
		if b, err := s.blob("stat", d); err == nil {
			return repository.Info{Digest: d, Size: int64(len(b))}, nil
		}
		return repository.Info{}, fmt.Errorf("stat %s: %w", d, ebb.ErrNotExist)
	}
	return s.Store.Stat(ctx, d)
}

func (s *brokenStore) Put(ctx context.Context, r io.Reader) (digest.Digest, error) {
	switch s.bug {
	case "put-ignores-context":
		return s.Store.Put(context.WithoutCancel(ctx), r)
	case "failed-put-stores":
		b, err := io.ReadAll(r)
		d, _ := s.Store.Put(ctx, bytes.NewReader(b))
		if err != nil {
			return "", err
		}
		return d, nil
	case "put-shares-buffer":
		if err := ctx.Err(); err != nil {
			return "", err
		}
		s.scratch.Reset()
		if _, err := s.scratch.ReadFrom(r); err != nil {
			return "", err
		}
		return s.Store.Put(ctx, bytes.NewReader(s.scratch.Bytes()))
	}
	return s.Store.Put(ctx, r)
}

func (s *brokenStore) PutFile(ctx context.Context, path string) (digest.Digest, error) {
	if s.bug == "put-ignores-context" {
		ctx = context.WithoutCancel(ctx)
	}
	return s.Store.PutFile(ctx, path)
}

func (s *brokenStore) GetFile(ctx context.Context, d digest.Digest, path string) error {
	switch s.bug {
	case "getfile-unverified-in-place":
		if err := checkDigest(ctx, "get file", d); err != nil {
			return err
		}
		b, err := s.blob("get file", d)
		if err != nil {
			return err
		}
		os.Remove(path)
		return os.WriteFile(path, b, 0o444)
	case "missing-is-fs-error":
		if _, err := s.Store.Stat(ctx, d); errors.Is(err, ebb.ErrNotExist) {
			return fmt.Errorf("get file %s: %w", d, fs.ErrNotExist)
		}
	case "getfile-writable":
		if err := s.Store.GetFile(ctx, d, path); err != nil {
			return err
		}
		return os.Chmod(path, 0o644)
	}
	return s.Store.GetFile(ctx, d, path)
}

// brokenCache is a memory Cache with one bug.
type brokenCache struct {
	*Cache
	bug string
}

// oneSlot is the key every result goes under with bug cache-one-slot.
var oneSlot = digest.FromString("the one slot")

func (c *brokenCache) Get(ctx context.Context, key digest.Digest) (pool.Result, error) {
	switch c.bug {
	case "cache-shares-results":
		if _, err := c.Cache.Get(ctx, key); err != nil {
			return pool.Result{}, err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.results[key], nil
	case "cache-one-slot":
		if err := checkDigest(ctx, "cache get", key); err != nil {
			return pool.Result{}, err
		}
		key = oneSlot
	}
	return c.Cache.Get(ctx, key)
}

func (c *brokenCache) Put(ctx context.Context, key digest.Digest, r pool.Result) error {
	switch c.bug {
	case "cache-keeps-invalid":
		if err := checkDigest(ctx, "cache put", key); err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.results == nil {
			c.results = make(map[digest.Digest]pool.Result)
		}
		c.results[key] = clone(r)
		return nil
	case "cache-one-slot":
		if err := checkDigest(ctx, "cache put", key); err != nil {
			return err
		}
		key = oneSlot
	}
	return c.Cache.Put(ctx, key, r)
}

func (c *brokenCache) Delete(ctx context.Context, key digest.Digest) error {
	switch c.bug {
	case "cache-delete-absent-fails":
		if _, err := c.Cache.Get(ctx, key); err != nil {
			return err
		}
	case "cache-one-slot":
		if err := checkDigest(ctx, "cache delete", key); err != nil {
			return err
		}
		key = oneSlot
	}
	return c.Cache.Delete(ctx, key)
}
