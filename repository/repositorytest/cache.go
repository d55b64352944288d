package repositorytest

import (
	"context"
	"fmt"
	"maps"
	"sync"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository"
	"github.com/opencontainers/go-digest"
)

// Cache is a [repository.Cache] in memory. It keeps the contract: keys
// are checked, results are checked with [repository.ValidateResult], and
// results go in and out as copies, so neither side's changes reach the
// other. The zero Cache is empty and ready to use; it is safe for
// concurrent use and must not be copied after first use.
type Cache struct {
	mu      sync.Mutex
	results map[digest.Digest]pool.Result // guarded by mu; each is its own copy
}

var _ repository.Cache = (*Cache)(nil)

// NewCache returns an empty Cache.
func NewCache() *Cache { return new(Cache) }

// Get returns a copy of the result stored for key; see [repository.Cache].
func (c *Cache) Get(ctx context.Context, key digest.Digest) (pool.Result, error) {
	if err := checkDigest(ctx, "cache get", key); err != nil {
		return pool.Result{}, err
	}
	c.mu.Lock()
	r, ok := c.results[key]
	c.mu.Unlock()
	if !ok {
		return pool.Result{}, fmt.Errorf("repositorytest: cache %s: %w", key, ebb.ErrNotExist)
	}
	return clone(r), nil
}

// Put stores a copy of r as the result for key; see [repository.Cache].
func (c *Cache) Put(ctx context.Context, key digest.Digest, r pool.Result) error {
	if err := checkDigest(ctx, "cache put", key); err != nil {
		return err
	}
	if err := repository.ValidateResult(r); err != nil {
		return fmt.Errorf("repositorytest: cache %s: %w", key, err)
	}
	r = clone(r)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.results == nil {
		c.results = make(map[digest.Digest]pool.Result)
	}
	c.results[key] = r
	return nil
}

// Delete removes the result for key; see [repository.Cache].
func (c *Cache) Delete(ctx context.Context, key digest.Digest) error {
	if err := checkDigest(ctx, "cache delete", key); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.results, key)
	return nil
}

// Len returns how many results c holds.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.results)
}

// clone returns r with maps of its own; an empty map becomes nil, as it
// does through the JSON of the directory cache.
func clone(r pool.Result) pool.Result {
	if len(r.Outputs) == 0 {
		r.Outputs = nil
	} else {
		r.Outputs = maps.Clone(r.Outputs)
	}
	if len(r.Resources) == 0 {
		r.Resources = nil
	} else {
		r.Resources = r.Resources.Clone()
	}
	return r
}
