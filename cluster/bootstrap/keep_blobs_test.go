package bootstrap_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository"
)

// A worker that fetches its blobs from the driver (Config.Blobs) keeps
// doing so across the driver's death: the bootstrap made again with the
// same Keep serves the driver's repository where the first one did, to
// the adopted worker's token. An exec running at the death stores its
// output through the new bootstrap, and a new exec stages an input that
// only the new driver's repository holds.
func TestKeepAndAdoptBlobs(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	store, err := repository.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	in, err := store.Put(ctx, strings.NewReader("from the first driver\n"))
	if err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(t.TempDir(), "records", "bootstrap.json")
	first, err := bootstrap.New(bootstrap.Config{Command: []string{ebbBinary, "worker"}, Blobs: store, Keep: keep, Grace: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e, err := first.Expect("w-1", small)
	if err != nil {
		t.Fatal(err)
	}
	start(t, e)
	c, err := e.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, err := pool.Allocate(ctx, c, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The exec stages its input from the first driver, says so through
	// the FIFO started, and stores its output once the test writes to
	// the FIFO go: after the first driver is gone.
	fifos := t.TempDir()
	started, goFIFO := filepath.Join(fifos, "started"), filepath.Join(fifos, "go")
	for _, f := range []string{started, goFIFO} {
		if err := syscall.Mkfifo(f, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	id := digest.FromString("across the death")
	x, err := a.Put(ctx, id, pool.ExecConfig{
		Argv:    []string{"/bin/sh", "-c", "echo > " + started + "; read x < " + goFIFO + "; tr a-z A-Z < in > out"},
		Inputs:  map[string]digest.Digest{"in": in},
		Outputs: []string{"out"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// An exec that ends without saying it started (its input was not
	// staged) must not leave the test waiting on the FIFO.
	waited := make(chan struct{})
	defer func() { cancel(); <-waited }()
	go func() {
		defer close(waited)
		x.Wait(ctx)
		if f, err := os.OpenFile(started, os.O_RDWR, 0); err == nil {
			f.Write([]byte("ended\n"))
			f.Close()
		}
	}()
	if b, err := os.ReadFile(started); err != nil || string(b) == "ended\n" {
		r, werr := x.Wait(ctx)
		t.Fatalf("the exec ended before it started (%v): %+v, %v", err, r, werr)
	}
	ann, _ := e.Announced()
	rec := cluster.WorkerRecord{ID: "w-1", Shape: small, URL: ann.URL, Pin: ann.Pin, Token: e.Token()}
	// The driver dies.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	in2, err := store.Put(ctx, strings.NewReader("only the second driver has it\n"))
	if err != nil {
		t.Fatal(err)
	}
	again := newBootstrap(t, bootstrap.Config{Blobs: store, Keep: keep, Adopt: []cluster.WorkerRecord{rec}})
	adopted, err := again.Adopt(rec)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := adopted.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	a2, err := c2.Alloc(ctx, a.ID())
	if err != nil {
		t.Fatalf("the alloc of the first driver: %v", err)
	}
	if err := os.WriteFile(goFIFO, []byte("go\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Put of the same digest re-attaches to the running exec.
	x2, err := a2.Put(ctx, id, pool.ExecConfig{Argv: []string{"/bin/false"}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := x2.Wait(ctx)
	if err != nil || !r.OK() {
		t.Fatalf("the exec running across the death: Wait = %+v, %v", r, err)
	}
	if got := readBlob(ctx, t, store, r.Outputs["out"]); got != "FROM THE FIRST DRIVER\n" {
		t.Errorf("output stored through the new bootstrap = %q", got)
	}

	x3, err := a2.Put(ctx, digest.FromString("after the death"), pool.ExecConfig{
		Argv:    []string{"/bin/sh", "-c", "tr a-z A-Z < in > out"},
		Inputs:  map[string]digest.Digest{"in": in2},
		Outputs: []string{"out"},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err = x3.Wait(ctx)
	if err != nil || !r.OK() {
		t.Fatalf("a new exec on the adopted worker: Wait = %+v, %v", r, err)
	}
	if got := readBlob(ctx, t, store, r.Outputs["out"]); got != "ONLY THE SECOND DRIVER HAS IT\n" {
		t.Errorf("output of the new exec = %q", got)
	}
}

func readBlob(ctx context.Context, t *testing.T, store *repository.Dir, d digest.Digest) string {
	t.Helper()
	rc, err := store.Get(ctx, d)
	if err != nil {
		t.Fatalf("blob %s is not in the driver's repository: %v", d, err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b)
}
