package repository

import (
	"bytes"
	"context"
	_ "crypto/sha512" // so that go-digest knows sha512, and only Dir refuses it
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/ebbflow/ebb"
	"github.com/opencontainers/go-digest"
)

func TestPutGet(t *testing.T) {
	d := openDir(t)
	for _, tc := range []struct {
		name    string
		content []byte
	}{
		{"empty", nil},
		{"small", []byte("hello, world\n")},
		{"chunks", randomBytes(1, 2*chunkSize+17)}, // three chunks, the last one partial
	} {
		t.Run(tc.name, func(t *testing.T) {
			dg := put(t, d, tc.content)
			if got := get(t, d, dg); !bytes.Equal(got, tc.content) {
				t.Errorf("Get(%s) returned %d bytes that differ from the %d put", dg, len(got), len(tc.content))
			}
			info, err := d.Stat(context.Background(), dg)
			if err != nil {
				t.Fatal(err)
			}
			if want := (Info{Digest: dg, Size: int64(len(tc.content))}); info != want {
				t.Errorf("Stat(%s) = %+v, want %+v", dg, info, want)
			}
			fi, err := os.Stat(d.path(dg))
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != storedMode {
				t.Errorf("blob mode = %v, want %v", got, os.FileMode(storedMode))
			}
			// The reader verifies through both of its paths: small
			// reads, and WriteTo as io.Copy uses it.
			r, err := d.Get(context.Background(), dg)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if err := iotest.TestReader(r, tc.content); err != nil {
				t.Error(err)
			}
		})
	}
	checkNoTemps(t, d.Root())
}

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

func TestNotExist(t *testing.T) {
	d := openDir(t)
	ctx := context.Background()
	dg := digest.FromString("never stored")
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, ebb.ErrNotExist) {
			t.Errorf("%s: got %v, want ErrNotExist", op, err)
		} else if !strings.Contains(err.Error(), dg.String()) {
			t.Errorf("%s: error %q does not name %s", op, err, dg)
		}
	}
	_, err := d.Get(ctx, dg)
	check("Get", err)
	_, err = d.Stat(ctx, dg)
	check("Stat", err)
	path := filepath.Join(t.TempDir(), "f")
	check("GetFile", d.GetFile(ctx, dg, path))
	if _, err := os.Lstat(path); err == nil {
		t.Errorf("GetFile of a missing blob created %s", path)
	}
}

// badDigests are digests that every call must refuse with ErrInvalid.
var badDigests = []digest.Digest{
	"",
	"sha256",
	"sha256:",
	"sha256:abc",
	"sha256:" + digest.Digest(strings.Repeat("A", 64)),                                             // upper case
	"sha256:" + digest.Digest(strings.Repeat("g", 64)),                                             // not hex
	"sha256:../../../../../../etc/passwd",                                                          // a path
	digest.Digest("SHA256:" + digest.FromString("x").Encoded()),                                    // algorithm case
	"md5:d41d8cd98f00b204e9800998ecf8427e",                                                         // unknown
	digest.SHA512.FromString("x"),                                                                  // known, unsupported
	digest.Digest("sha256:" + digest.FromString("x").Encoded() + "\x00"),                           // trailing NUL
	digest.Digest(" sha256:" + digest.FromString("x").Encoded()),                                   // leading space
	digest.Digest("sha256:" + digest.FromString("x").Encoded()[:63] + "/"),                         // separator
	digest.Digest("sha256:" + digest.FromString("x").Encoded() + digest.FromString("x").Encoded()), // too long
}

func TestInvalidDigest(t *testing.T) {
	d := openDir(t)
	c, err := OpenCache(d.Root())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "f")
	for _, dg := range badDigests {
		ops := map[string]error{}
		_, ops["Get"] = d.Get(ctx, dg)
		_, ops["Stat"] = d.Stat(ctx, dg)
		ops["GetFile"] = d.GetFile(ctx, dg, path)
		_, ops["Cache.Get"] = c.Get(ctx, dg)
		ops["Cache.Put"] = c.Put(ctx, dg, okResult)
		ops["Cache.Delete"] = c.Delete(ctx, dg)
		for op, err := range ops {
			if !errors.Is(err, ebb.ErrInvalid) {
				t.Errorf("%s(%q) = %v, want ErrInvalid", op, dg, err)
			} else if !strings.Contains(err.Error(), strconv.Quote(string(dg))) {
				t.Errorf("%s(%q): error %q does not name the digest", op, dg, err)
			}
		}
	}
}

func TestCorruptBlob(t *testing.T) {
	content := randomBytes(2, chunkSize+100)
	d := openDir(t)
	ctx := context.Background()
	dg := put(t, d, content)
	for _, tc := range []struct {
		name string
		edit func([]byte) []byte
	}{
		{"flipped first byte", func(b []byte) []byte { b[0] ^= 1; return b }},
		{"flipped last byte", func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }},
		{"extended", func(b []byte) []byte { return append(b, 0) }},
		{"emptied", func(b []byte) []byte { return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			edit(t, d.path(dg), func([]byte) []byte { return tc.edit(bytes.Clone(content)) })

			reads := map[string]func(io.Reader) error{
				"ReadAll":   func(r io.Reader) error { _, err := io.ReadAll(r); return err },
				"Copy":      func(r io.Reader) error { _, err := io.Copy(io.Discard, r); return err },
				"HalfReads": func(r io.Reader) error { _, err := io.ReadAll(iotest.HalfReader(r)); return err },
			}
			for name, read := range reads {
				r, err := d.Get(ctx, dg)
				if err != nil {
					t.Fatal(err)
				}
				err = read(r)
				r.Close()
				if !errors.Is(err, ebb.ErrCorrupt) {
					t.Errorf("%s of a damaged blob: %v, want ErrCorrupt", name, err)
				} else if !strings.Contains(err.Error(), dg.String()) {
					t.Errorf("%s: error %q does not name %s", name, err, dg)
				}
			}

			// A damaged blob is not staged either, and the file
			// that was at path stays.
			path := filepath.Join(t.TempDir(), "input")
			if err := os.WriteFile(path, []byte("before"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := d.GetFile(ctx, dg, path); !errors.Is(err, ebb.ErrCorrupt) {
				t.Errorf("GetFile of a damaged blob: %v, want ErrCorrupt", err)
			}
			if b, err := os.ReadFile(path); err != nil || string(b) != "before" {
				t.Errorf("after a failed GetFile, %s holds %.20q (%d bytes), %v; want %q", path, b, len(b), err, "before")
			}
			if got := files(t, filepath.Dir(path)); len(got) != 1 {
				t.Errorf("GetFile left files behind: %q", got)
			}
		})
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

// cancelReader cancels its context after n bytes and keeps returning data.
type cancelReader struct {
	n      int
	cancel context.CancelFunc
}

func (r *cancelReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		r.cancel()
	}
	r.n -= len(p)
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func TestPutFails(t *testing.T) {
	d := openDir(t)
	readErr := errors.New("reader broke")
	for _, tc := range []struct {
		name string
		r    func(context.CancelFunc) io.Reader
		ctx  bool // cancel ctx up front
		want error
	}{
		{"cancelled before", func(context.CancelFunc) io.Reader { return strings.NewReader("x") }, true, context.Canceled},
		{"cancelled while copying", func(c context.CancelFunc) io.Reader { return &cancelReader{n: 2 * chunkSize, cancel: c} }, false, context.Canceled},
		{"reader fails", func(context.CancelFunc) io.Reader {
			return io.MultiReader(strings.NewReader("some data"), iotest.ErrReader(readErr))
		}, false, readErr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.ctx {
				cancel()
			}
			dg, err := d.Put(ctx, tc.r(cancel))
			if !errors.Is(err, tc.want) {
				t.Errorf("Put = %q, %v; want error %v", dg, err, tc.want)
			}
			checkNoTemps(t, d.Root())
			if got := files(t, filepath.Join(d.Root(), "blobs")); len(got) > 0 {
				t.Errorf("failed Put stored %q", got)
			}
		})
	}
}

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
	if _, err := d.Get(ctx, dg); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a done context: %v, want context.Canceled", err)
	}
}

func TestConcurrentPut(t *testing.T) {
	d := openDir(t)
	const workers = 16
	shared := make([][]byte, 4)
	for i := range shared {
		shared[i] = randomBytes(uint64(100+i), (i+1)*chunkSize/3)
	}
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			mine := []byte(fmt.Sprintf("worker %d", w))
			for i := range shared {
				// Start at different places so that workers collide
				// on every blob, not only the first.
				b := shared[(i+w)%len(shared)]
				if dg, err := d.Put(context.Background(), bytes.NewReader(b)); err != nil || dg != digest.FromBytes(b) {
					errc <- fmt.Errorf("worker %d: Put = %s, %v", w, dg, err)
					return
				}
			}
			if dg, err := d.Put(context.Background(), bytes.NewReader(mine)); err != nil || dg != digest.FromBytes(mine) {
				errc <- fmt.Errorf("worker %d: Put = %s, %v", w, dg, err)
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	for _, b := range shared {
		if got := get(t, d, digest.FromBytes(b)); !bytes.Equal(got, b) {
			t.Errorf("blob %s differs after concurrent Puts", digest.FromBytes(b))
		}
	}
	if got, want := len(files(t, filepath.Join(d.Root(), "blobs"))), len(shared)+workers; got != want {
		t.Errorf("%d blob files, want %d", got, want)
	}
	checkNoTemps(t, d.Root())
}
