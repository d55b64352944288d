package repositorytest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository/repositorytest"
	"github.com/opencontainers/go-digest"
)

// A memory Store is a repository for tests; Damage shows what code that
// reads blobs does with a damaged one.
func ExampleStore() {
	ctx := context.Background()
	s := repositorytest.NewStore()
	d, err := s.Put(ctx, strings.NewReader("hello, world\n"))
	if err != nil {
		panic(err)
	}
	fmt.Println(d)

	s.Damage(d, []byte("hello, wörld\n"))
	r, err := s.Get(ctx, d)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	_, err = io.ReadAll(r)
	fmt.Println(errors.Is(err, ebb.ErrCorrupt))
	// Output:
	// sha256:853ff93762a06ddbf722c4ebe9ddd66d8f63ddaea97f521c3ecc20da7c976020
	// true
}

func ExampleCache() {
	ctx := context.Background()
	c := repositorytest.NewCache()
	task := digest.FromString("a task")
	if _, err := c.Get(ctx, task); errors.Is(err, ebb.ErrNotExist) {
		fmt.Println("not cached yet")
	}
	if err := c.Put(ctx, task, pool.Result{ExitCode: 0, Stdout: "done\n"}); err != nil {
		panic(err)
	}
	r, err := c.Get(ctx, task)
	fmt.Printf("%q %v %d\n", r.Stdout, err, c.Len())
	// Output:
	// not cached yet
	// "done\n" <nil> 1
}
