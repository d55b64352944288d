package repository_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository"
	"github.com/opencontainers/go-digest"
)

func ExampleBatchCache() {
	root, err := os.MkdirTemp("", "ebb-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)

	dc, err := repository.OpenCache(root)
	if err != nil {
		log.Fatal(err)
	}
	cache := repository.NewBatchCache(dc, repository.BatchConfig{})
	ctx := context.Background()

	// Put returns once the entry is in place, before it is synced.
	key := digest.FromString("a task")
	start := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	if err := cache.Put(ctx, key, pool.Result{Start: start, End: start.Add(time.Second)}); err != nil {
		log.Fatal(err)
	}
	// Every process sharing the root finds it at once.
	other, err := repository.OpenCache(root)
	if err != nil {
		log.Fatal(err)
	}
	r, err := other.Get(ctx, key)
	fmt.Println(r.Duration(), err)

	// Sync makes it durable, as a runner does before it saves its
	// State; Close syncs the rest.
	if err := cache.Sync(ctx); err != nil {
		log.Fatal(err)
	}
	if err := cache.Close(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 1s <nil>
}
