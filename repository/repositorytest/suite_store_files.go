package repositorytest

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/opencontainers/go-digest"
)

func (s *storeSuite) testPutFile(t *testing.T) {
	st := s.newStore(t)
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	content := randomBytes(4, bigSize)
	if err := os.WriteFile(path, content, 0o640); err != nil {
		t.Fatal(err)
	}
	d, err := st.PutFile(ctx, path)
	if err != nil {
		t.Fatalf("PutFile(%s): %v", path, err)
	}
	if want := digest.FromBytes(content); d != want {
		t.Errorf("PutFile = %s, want %s", d, want)
	}
	if got := get(t, st, d); !bytes.Equal(got, content) {
		t.Error("the stored content differs from the file's")
	}
	// The file is left as it was, and writing it later does not change
	// the blob.
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("PutFile changed the file's mode to %v", fi.Mode())
	}
	if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, content) {
		t.Errorf("PutFile changed the file's content (%v)", err)
	}
	if err := os.WriteFile(path, []byte("written after PutFile"), 0o640); err != nil {
		t.Fatal(err)
	}
	if got := get(t, st, d); !bytes.Equal(got, content) {
		t.Errorf("after the file was written, the blob reads %.20q, want the content put", got)
	}

	missingFile := filepath.Join(dir, "missing")
	if d, err := st.PutFile(ctx, missingFile); !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("PutFile of a missing file = %s, %v; want an error wrapping ebb.ErrNotExist or fs.ErrNotExist", d, err)
	}
}

func (s *storeSuite) testGetFile(t *testing.T) {
	st := s.newStore(t)
	ctx := t.Context()
	content := randomBytes(5, bigSize)
	d := put(t, st, content)
	dir := t.TempDir()
	path := filepath.Join(dir, "in")
	if err := os.WriteFile(path, []byte("replaced"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Twice: staging over a file that is already the blob works too.
	for i := range 2 {
		if err := st.GetFile(ctx, d, path); err != nil {
			t.Fatalf("GetFile(%s) #%d: %v", d, i+1, err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(b, content) {
		t.Errorf("GetFile wrote %d bytes (%v), want the %d stored", len(b), err, len(content))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o222 != 0 || !fi.Mode().IsRegular() {
		t.Errorf("staged file mode = %v, want a read-only regular file", fi.Mode())
	}
	if got := files(t, dir); !slices.Equal(got, []string{"in"}) {
		t.Errorf("GetFile left files behind: %q", got)
	}

	// Whoever can write the staged file (a privileged process can
	// despite its mode) writes a copy, never the blob.
	if w, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0); err == nil {
		_, err = w.Write([]byte("written through the staged file"))
		w.Close()
		if err != nil {
			t.Errorf("writing the staged file, which opened for writing: %v", err)
		}
	}
	if got := get(t, st, d); !bytes.Equal(got, content) {
		t.Errorf("after writing the staged file, the blob reads %.20q, want the content put", got)
	}

	if err := st.GetFile(ctx, d, filepath.Join(dir, "no", "such", "dir")); err == nil {
		t.Error("GetFile into a missing directory: no error")
	}
}
