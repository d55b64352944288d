package repository

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"path/filepath"
	"testing"
)

const benchSize = 1 << 20

// BenchmarkPut stores 1 MiB blobs: new content each time (hash, write,
// sync, rename, sync the directory), or content already stored (hash and
// write a temporary file, then drop it).
func BenchmarkPut(b *testing.B) {
	ctx := context.Background()
	b.Run("new", func(b *testing.B) {
		d := openDir(b)
		content := randomBytes(1, benchSize)
		b.SetBytes(benchSize)
		var i uint64
		for b.Loop() {
			i++
			binary.LittleEndian.PutUint64(content, i)
			if _, err := d.Put(ctx, bytes.NewReader(content)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("existing", func(b *testing.B) {
		d := openDir(b)
		content := randomBytes(1, benchSize)
		put(b, d, content)
		b.SetBytes(benchSize)
		for b.Loop() {
			if _, err := d.Put(ctx, bytes.NewReader(content)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGet reads and verifies a 1 MiB blob (from the page cache).
func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	d := openDir(b)
	dg := put(b, d, randomBytes(1, benchSize))
	b.SetBytes(benchSize)
	for b.Loop() {
		r, err := d.Get(ctx, dg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}

// BenchmarkGetFile stages a 1 MiB blob on the store's file system: a
// verified hard link, or a copy when this process could write through a
// link (root).
func BenchmarkGetFile(b *testing.B) {
	ctx := context.Background()
	d := openDir(b)
	dg := put(b, d, randomBytes(1, benchSize))
	path := filepath.Join(b.TempDir(), "in")
	b.SetBytes(benchSize)
	for b.Loop() {
		if err := d.GetFile(ctx, dg, path); err != nil {
			b.Fatal(err)
		}
	}
}
