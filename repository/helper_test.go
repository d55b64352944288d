package repository

import (
	"context"
	"encoding/binary"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func openDir(t testing.TB) *Dir {
	t.Helper()
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func put(t testing.TB, d *Dir, content []byte) digest.Digest {
	t.Helper()
	dg, err := d.Put(context.Background(), strings.NewReader(string(content)))
	if err != nil {
		t.Fatalf("Put(%d bytes): %v", len(content), err)
	}
	if want := digest.FromBytes(content); dg != want {
		t.Fatalf("Put(%d bytes) = %s, want %s", len(content), dg, want)
	}
	return dg
}

func get(t testing.TB, d *Dir, dg digest.Digest) []byte {
	t.Helper()
	r, err := d.Get(context.Background(), dg)
	if err != nil {
		t.Fatalf("Get(%s): %v", dg, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("Get(%s): read: %v", dg, err)
	}
	return b
}

// randomBytes returns n bytes drawn from a generator seeded with seed.
func randomBytes(seed uint64, n int) []byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	b := make([]byte, n)
	rand.NewChaCha8(s).Read(b)
	return b
}

// files returns the paths of the regular files under dir, relative to it.
func files(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkNoTemps fails t if a temporary file is left under root.
func checkNoTemps(t testing.TB, root string) {
	t.Helper()
	if got := files(t, filepath.Join(root, "tmp")); len(got) > 0 {
		t.Errorf("temporary files left in %s/tmp: %q", root, got)
	}
	for _, f := range files(t, root) {
		if strings.Contains(filepath.Base(f), ".ebb-") {
			t.Errorf("temporary file left: %s", f)
		}
	}
}

// overwrite replaces the read-only file at path with content b, keeping
// its mode.
func overwrite(t testing.TB, path string, b []byte) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, fi.Mode()); err != nil {
		t.Fatal(err)
	}
}

// edit rewrites the file at path with what f makes of its content.
func edit(t testing.TB, path string, f func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	overwrite(t, path, f(b))
}
