package repository_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository"
	"github.com/opencontainers/go-digest"
)

func ExampleDir() {
	root, err := os.MkdirTemp("", "ebb-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)

	store, err := repository.Open(root)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	// A blob is named by its content.
	d, err := store.Put(ctx, strings.NewReader("hello, world\n"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d)

	r, err := store.Get(ctx, d)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r) // fails with ebb.ErrCorrupt if the blob was damaged
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", b)

	info, err := store.Stat(ctx, d)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Size, "bytes")

	_, err = store.Get(ctx, digest.FromString("never stored"))
	fmt.Println(errors.Is(err, ebb.ErrNotExist))
	// Output:
	// sha256:853ff93762a06ddbf722c4ebe9ddd66d8f63ddaea97f521c3ecc20da7c976020
	// "hello, world\n"
	// 13 bytes
	// true
}

func ExampleDirCache() {
	root, err := os.MkdirTemp("", "ebb-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)

	cache, err := repository.OpenCache(root)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	// The key is the task's digest, from what determines its result.
	task := pool.ExecConfig{Argv: []string{"sh", "-c", "echo hi > out.txt"}, Outputs: []string{"out.txt"}}
	key := task.Digest()
	if _, err := cache.Get(ctx, key); errors.Is(err, ebb.ErrNotExist) {
		fmt.Println("miss: run the task")
	}

	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	err = cache.Put(ctx, key, pool.Result{
		Start:   start,
		End:     start.Add(2 * time.Second),
		Outputs: map[string]digest.Digest{"out.txt": digest.FromString("hi\n")},
	})
	if err != nil {
		log.Fatal(err)
	}

	r, err := cache.Get(ctx, key)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("hit:", r.OK(), r.Duration(), r.Outputs["out.txt"])
	// Output:
	// miss: run the task
	// hit: true 2s sha256:98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4
}
