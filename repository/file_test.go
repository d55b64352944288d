package repository

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ebbflow/ebb"
)

// TestPutFile checks what Dir's PutFile adds to the Store contract: the
// blob is a file of its own, and the errors for a missing path and for a
// directory.
func TestPutFile(t *testing.T) {
	d := openDir(t)
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	if err := os.WriteFile(path, randomBytes(4, chunkSize+1), 0o640); err != nil {
		t.Fatal(err)
	}
	dg, err := d.PutFile(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if bfi, err := os.Stat(d.path(dg)); err != nil || os.SameFile(fi, bfi) {
		t.Errorf("stored blob is the caller's file (or missing: %v)", err)
	}

	missing := filepath.Join(dir, "missing")
	if _, err := d.PutFile(ctx, missing); !errors.Is(err, ebb.ErrNotExist) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("PutFile(missing) = %v, want ebb.ErrNotExist and fs.ErrNotExist", err)
	}
	if _, err := d.PutFile(ctx, dir); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("PutFile(a directory) = %v, want ErrInvalid", err)
	}
	checkNoTemps(t, d.Root())
}

// canWriteReadOnly reports whether this process can open a read-only file
// of its own for writing, as root can.
func canWriteReadOnly(t *testing.T) bool {
	path := filepath.Join(t.TempDir(), "ro")
	if err := os.WriteFile(path, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// TestGetFileStaged checks that a file GetFile staged cannot change the
// stored blob: this process either cannot write it (a hard link to a
// read-only blob) or writes its own copy.
func TestGetFileStaged(t *testing.T) {
	d := openDir(t)
	ctx := context.Background()
	content := []byte("an input")
	dg := put(t, d, content)
	path := filepath.Join(d.Root(), "work", "in") // surely the store's file system
	if err := os.Mkdir(filepath.Dir(path), 0o777); err != nil {
		t.Fatal(err)
	}
	// Twice: staging over a file that is already the blob works too.
	for range 2 {
		if err := d.GetFile(ctx, dg, path); err != nil {
			t.Fatal(err)
		}
	}
	staged, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := os.Stat(d.path(dg))
	if err != nil {
		t.Fatal(err)
	}
	linked := os.SameFile(staged, blob)
	privileged := canWriteReadOnly(t)
	t.Logf("linked=%v, can write read-only files=%v", linked, privileged)
	if privileged && linked {
		t.Fatal("a process that can write read-only files got a hard link to the blob")
	}
	if !privileged && !linked {
		t.Error("GetFile copied within one file system; want a hard link")
	}

	w, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err == nil {
		_, err = w.Write([]byte("overwritten by the task"))
		w.Close()
	}
	switch {
	case linked && !errors.Is(err, fs.ErrPermission):
		t.Errorf("writing the linked file: %v, want a permission error", err)
	case !linked && err != nil:
		t.Errorf("writing the copy: %v", err)
	}
	if got := get(t, d, dg); !bytes.Equal(got, content) {
		t.Errorf("after writing the staged file the blob reads %q, want %q", got, content)
	}
	if got := files(t, filepath.Dir(path)); len(got) != 1 {
		t.Errorf("GetFile left files behind: %q", got)
	}
}

// PutFile of a FIFO or a device fails at once with ErrInvalid: it neither
// waits for a writer in open nor reads /dev/zero forever.
func TestPutFileNotRegular(t *testing.T) {
	d := openDir(t)
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, "/dev/zero"} {
		if _, err := d.PutFile(t.Context(), path); !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), path) {
			t.Errorf("PutFile(%s) = %v, want ErrInvalid naming it", path, err)
		}
	}
	checkNoTemps(t, d.Root())
}
