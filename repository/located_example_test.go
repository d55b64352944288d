package repository_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/repository"
	"github.com/opencontainers/go-digest"
)

// workerBlobs stands for the workers' peer servers (remote.Peers in a
// real run): holder → digest → content.
type workerBlobs map[string]map[digest.Digest]string

func (w workerBlobs) Open(ctx context.Context, holder string, d digest.Digest) (io.ReadCloser, error) {
	s, ok := w[holder][d]
	if !ok {
		return nil, ebb.ErrNotExist
	}
	return io.NopCloser(strings.NewReader(s)), nil
}

func (w workerBlobs) Stat(ctx context.Context, holder string, d digest.Digest) (repository.Info, error) {
	s, ok := w[holder][d]
	if !ok {
		return repository.Info{}, ebb.ErrNotExist
	}
	return repository.Info{Digest: d, Size: int64(len(s))}, nil
}

// A driver's store that knows where a worker's output is: the worker
// keeps it and says so; the driver copies it only when it reads it.
func ExampleLocated() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ebb-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := repository.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	out := digest.FromString("an output")
	workers := workerBlobs{"worker-1": {out: "an output"}}
	l := repository.NewLocated(store, workers)

	if err := l.Hold(ctx, out, 9, "worker-1"); err != nil { // the worker's word
		log.Fatal(err)
	}
	holders, _ := l.Holders(out)
	_, err = store.Stat(ctx, out)
	fmt.Println("held by", holders, "; in the driver's store:", err == nil)

	r, err := l.Get(ctx, out) // the caller asked for it: copied once
	if err != nil {
		log.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	_, err = store.Stat(ctx, out)
	fmt.Printf("%s; in the driver's store: %v\n", b, err == nil)
	// Output:
	// held by [worker-1] ; in the driver's store: false
	// an output; in the driver's store: true
}
