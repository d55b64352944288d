package repository

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ebbflow/ebb"
)

// TestBlobFile checks where and how Dir keeps a blob; the Store contract
// itself is checked by TestStoreConformance.
func TestBlobFile(t *testing.T) {
	d := openDir(t)
	content := randomBytes(1, 2*chunkSize+17) // three chunks, the last one partial
	dg := put(t, d, content)
	b, err := os.ReadFile(d.path(dg))
	if err != nil || !bytes.Equal(b, content) {
		t.Errorf("file of blob %s holds %d bytes (%v), want the %d put", dg, len(b), err, len(content))
	}
	fi, err := os.Stat(d.path(dg))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != storedMode {
		t.Errorf("blob mode = %v, want %v", got, os.FileMode(storedMode))
	}
	checkNoTemps(t, d.Root())
}

// TestPutIdempotent checks that putting stored content again keeps the
// stored file, inode and all, so that links to it stay the blob.
func TestPutIdempotent(t *testing.T) {
	d := openDir(t)
	content := []byte("same content")
	dg := put(t, d, content)
	before, err := os.Stat(d.path(dg))
	if err != nil {
		t.Fatal(err)
	}
	if again := put(t, d, content); again != dg {
		t.Errorf("second Put = %s, first = %s", again, dg)
	}
	after, err := os.Stat(d.path(dg))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("second Put replaced the stored file")
	}
	if got := files(t, filepath.Join(d.Root(), "blobs")); len(got) != 1 {
		t.Errorf("files after two Puts of one content: %q, want one", got)
	}
	checkNoTemps(t, d.Root())
}

// Putting a small blob that is stored already writes no file at all: with
// nowhere to write a temporary file, it still succeeds, as storing a blob
// that is not there fails.
func TestPutStoredSmallWritesNothing(t *testing.T) {
	d := openDir(t)
	small := randomBytes(2, smallBlob)
	dg := put(t, d, small)
	if err := os.RemoveAll(d.tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.tmp, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := d.Put(t.Context(), bytes.NewReader(small))
	if err != nil || got != dg {
		t.Errorf("Put of a stored blob of %d bytes = %s, %v; want %s", len(small), got, err, dg)
	}
	for _, content := range [][]byte{[]byte("not stored"), randomBytes(3, smallBlob+1)} {
		if got, err := d.Put(t.Context(), bytes.NewReader(content)); err == nil {
			t.Errorf("Put of %d bytes not stored, without a tmp directory = %s, want an error", len(content), got)
		}
	}
}

func TestOpen(t *testing.T) {
	if _, err := Open(""); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf(`Open("") = %v, want ErrInvalid`, err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(file); err == nil {
		t.Errorf("Open(%s), a regular file: no error", file)
	}

	// Two stores on one root see each other's blobs.
	root := filepath.Join(t.TempDir(), "a", "b")
	d1, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if d1.Root() != root || !filepath.IsAbs(d1.Root()) {
		t.Errorf("Root() = %q, want %q", d1.Root(), root)
	}
	dg := put(t, d1, []byte("shared"))
	if got := get(t, d2, dg); string(got) != "shared" {
		t.Errorf("other store read %q, want %q", got, "shared")
	}
}

func TestPutRepairsWrongSize(t *testing.T) {
	d := openDir(t)
	content := []byte("content that gets truncated")
	dg := put(t, d, content)
	edit(t, d.path(dg), func(b []byte) []byte { return b[:3] })
	put(t, d, content)
	if got := get(t, d, dg); !bytes.Equal(got, content) {
		t.Errorf("after Put again, Get = %q, want %q", got, content)
	}
}

// TestGetCancel checks that the reader of a Dir stops when its context
// is done, as Get documents.
func TestGetCancel(t *testing.T) {
	d := openDir(t)
	dg := put(t, d, randomBytes(3, 2*chunkSize))
	ctx, cancel := context.WithCancel(context.Background())
	r, err := d.Get(ctx, dg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := io.Copy(io.Discard, r); !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel: %v, want context.Canceled", err)
	}
}
