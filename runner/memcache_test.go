package runner

import (
	"context"
	"sync"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository"
	"github.com/opencontainers/go-digest"
)

// memCache is a repository.Cache in memory.
type memCache struct {
	mu sync.Mutex
	m  map[digest.Digest]pool.Result
}

var _ repository.Cache = (*memCache)(nil)

func newMemCache() *memCache { return &memCache{m: map[digest.Digest]pool.Result{}} }

func (c *memCache) Get(ctx context.Context, key digest.Digest) (pool.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[key]
	if !ok {
		return pool.Result{}, ebb.ErrNotExist
	}
	return r, nil
}

func (c *memCache) Put(ctx context.Context, key digest.Digest, r pool.Result) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[key] = r
	return nil
}

func (c *memCache) Delete(ctx context.Context, key digest.Digest) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
	return nil
}

func (c *memCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
