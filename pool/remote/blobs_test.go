package remote

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository"
	"github.com/opencontainers/go-digest"
)

// TestBlobs puts a task's input into a worker's repository over a real
// connection, runs the task on the worker's pool, and gets its output
// back by digest: the round trip a driver makes.
func TestBlobs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, dir := localPool(t)
	c := dial(t, serveTLS(t, newServer(t, ServerConfig{Pool: p, Repository: dir})))
	repo := c.Repository()

	in, err := repo.Put(ctx, bytes.NewReader([]byte("hello, worker\n")))
	if err != nil {
		t.Fatal(err)
	}
	if want := digest.FromString("hello, worker\n"); in != want {
		t.Errorf("Put = %s, want %s", in, want)
	}
	if info, err := repo.Stat(ctx, in); err != nil || info.Size != 14 || info.Digest != in {
		t.Errorf("Stat = %+v, %v; want 14 bytes", info, err)
	}

	a := acceptOne(t, ctx, c)
	e, err := a.Put(ctx, digest.FromString("upper"), pool.ExecConfig{
		Argv:    []string{"sh", "-c", "tr a-z A-Z < in.txt > out.txt"},
		Env:     []string{"PATH=/usr/bin:/bin"},
		Inputs:  map[string]digest.Digest{"in.txt": in},
		Outputs: []string{"out.txt"},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.Wait(ctx)
	if err != nil || !r.OK() {
		t.Fatalf("Wait = %+v, %v", r, err)
	}
	// The worker's staging figures come back over the protocol.
	if len(r.StageIn) != 1 || r.StageIn[0].Name != "in.txt" || r.StageIn[0].Bytes != 14 || r.StageIn[0].Digest != in ||
		r.StageIn[0].Where != pool.WhereRepository || r.StageIn[0].Start.IsZero() {
		t.Errorf("StageIn = %+v, want in.txt, 14 bytes from the worker's repository", r.StageIn)
	}
	if len(r.StageOut) != 1 || r.StageOut[0].Name != "out.txt" || r.StageOut[0].Bytes != 14 || r.StageOut[0].Digest != r.Outputs["out.txt"] {
		t.Errorf("StageOut = %+v, want out.txt, 14 bytes", r.StageOut)
	}
	rc, err := repo.Get(ctx, r.Outputs["out.txt"])
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(got) != "HELLO, WORKER\n" {
		t.Errorf("output = %q, %v; want %q", got, err, "HELLO, WORKER\n")
	}

	local := t.TempDir()
	path := filepath.Join(local, "out")
	if err := repo.GetFile(ctx, r.Outputs["out.txt"], path); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "HELLO, WORKER\n" {
		t.Errorf("GetFile wrote %q, %v", b, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm()&0o222 != 0 {
		t.Errorf("GetFile's file: %v, %v; want it read-only", fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(local); len(entries) != 1 {
		t.Errorf("GetFile left %d files in the directory, want just the blob", len(entries))
	}
	if d, err := repo.PutFile(ctx, path); err != nil || d != r.Outputs["out.txt"] {
		t.Errorf("PutFile = %s, %v; want %s", d, err, r.Outputs["out.txt"])
	}
}

// TestBlobErrors checks the errors of the blob calls, by kind.
func TestBlobErrors(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	dir, err := repository.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	c := dialInProcess(t, newServer(t, ServerConfig{Pool: memPool(t), Repository: dir}))
	repo := c.Repository()
	missing := digest.FromString("never stored")
	if _, err := repo.Get(ctx, missing); !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("Get of a missing blob: %v, want ErrNotExist", err)
	}
	if _, err := repo.Stat(ctx, missing); !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("Stat of a missing blob: %v, want ErrNotExist", err)
	}
	for _, d := range []digest.Digest{"", "sha256:abc", "md5:d41d8cd98f00b204e9800998ecf8427e", "sha512:" + digest.Digest(strings.Repeat("0", 128))} {
		if _, err := repo.Get(ctx, d); !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("Get(%q): %v, want ErrInvalid", d, err)
		}
		if err := repo.GetFile(ctx, d, filepath.Join(t.TempDir(), "x")); !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("GetFile(%q): %v, want ErrInvalid", d, err)
		}
	}

	// A blob changed on the server's disk fails its read with
	// ErrCorrupt, and GetFile leaves nothing behind.
	d, err := repo.Put(ctx, strings.NewReader("original"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "blobs", "sha256", d.Encoded()[:2], d.Encoded())
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	rc, err := repo.Get(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rc)
	rc.Close()
	if !errors.Is(err, ebb.ErrCorrupt) {
		t.Errorf("reading a tampered blob: %v, want ErrCorrupt", err)
	}
	local := t.TempDir()
	if err := repo.GetFile(ctx, d, filepath.Join(local, "x")); !errors.Is(err, ebb.ErrCorrupt) {
		t.Errorf("GetFile of a tampered blob: %v, want ErrCorrupt", err)
	}
	if entries, _ := os.ReadDir(local); len(entries) != 0 {
		t.Errorf("GetFile of a tampered blob left %d files", len(entries))
	}

	// A server without a repository refuses blob calls; one with only a
	// repository serves blobs, and refuses pool calls.
	noRepo := dialInProcess(t, newServer(t, ServerConfig{Pool: memPool(t)}))
	if _, err := noRepo.Repository().Put(ctx, strings.NewReader("x")); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("Put to a server without a repository: %v, want ErrInvalid", err)
	}
	only := newServer(t, ServerConfig{Repository: newMemRepo()})
	cfg := ClientConfig{URL: "http://in-process", Token: testToken, Transport: InProcess(only)}
	if _, err := Dial(ctx, cfg); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("Dial of a server without a pool: %v, want ErrInvalid", err)
	}
	r, err := NewRepository(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if d, err := r.Put(ctx, strings.NewReader("x")); err != nil || d != digest.FromString("x") {
		t.Errorf("Put to a server of blobs only = %s, %v", d, err)
	}
	if _, err := NewServer(ServerConfig{Token: testToken}); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("NewServer with neither Pool nor Repository: %v, want ErrInvalid", err)
	}
}

// PutFile of a FIFO or a device fails at once with ErrInvalid, instead of
// waiting for a writer or sending /dev/zero forever; a missing file with
// ErrNotExist.
func TestPutFileNotRegular(t *testing.T) {
	dir, err := repository.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := dialInProcess(t, newServer(t, ServerConfig{Pool: memPool(t), Repository: dir}))
	repo := c.Repository()
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, "/dev/zero"} {
		if _, err := repo.PutFile(t.Context(), path); !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), path) {
			t.Errorf("PutFile(%s) = %v, want ErrInvalid naming it", path, err)
		}
	}
	if _, err := repo.PutFile(t.Context(), filepath.Join(t.TempDir(), "nope")); !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("PutFile of a missing file = %v, want ErrNotExist", err)
	}
}
