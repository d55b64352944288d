package repositorytest

import (
	"bytes"
	"context"
	_ "crypto/sha512" // so that go-digest knows sha512, which stores must still refuse
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/repository"
	"github.com/opencontainers/go-digest"
)

// StoreConfig says how [RunStore] makes the stores under test. Only New
// is required.
type StoreConfig struct {
	// New returns a fresh, empty store. RunStore calls it once per
	// subtest with that subtest's t; New registers whatever releases the
	// store (and checks it left nothing behind) with t.Cleanup.
	New func(t *testing.T) repository.Store

	// Damage replaces the bytes s holds for blob d with content, as a
	// failing disk would, for the Corrupt subtests. When nil, they are
	// skipped.
	Damage func(t *testing.T, s repository.Store, d digest.Digest, content []byte)
}

// RunStore checks that the stores cfg.New makes keep the
// [repository.Store] contract, failing a named subtest for every breach:
//
//	PutGet        Put names content by its sha256 digest; Get and Stat give it back
//	Idempotent    a second Put of one content gives the same digest and blob
//	NotExist      Get, Stat and GetFile of a missing blob are ebb.ErrNotExist
//	Invalid       a malformed or non-sha256 digest is ebb.ErrInvalid, named
//	Canceled      a done context fails every call with its error, storing nothing
//	PutFails      a Put whose reader fails, or whose context ends, stores nothing
//	Corrupt       damaged blobs fail Get's reader and GetFile with ebb.ErrCorrupt
//	Concurrent    concurrent Puts of the same blobs store each once, whole
//	PutFile       stores a file's content and leaves the file alone
//	GetFile       writes a verified, read-only copy the caller cannot write through
//
// Errors are checked by kind, with errors.Is, never by message, except
// that an error about a digest must name it.
func RunStore(t *testing.T, cfg StoreConfig) {
	t.Helper()
	if cfg.New == nil {
		t.Fatal("repositorytest.RunStore: StoreConfig.New is nil")
	}
	s := &storeSuite{cfg}
	t.Run("PutGet", s.testPutGet)
	t.Run("Idempotent", s.testIdempotent)
	t.Run("NotExist", s.testNotExist)
	t.Run("Invalid", s.testInvalid)
	t.Run("Canceled", s.testCanceled)
	t.Run("PutFails", s.testPutFails)
	t.Run("Corrupt", s.testCorrupt)
	t.Run("Concurrent", s.testConcurrent)
	t.Run("PutFile", s.testPutFile)
	t.Run("GetFile", s.testGetFile)
}

type storeSuite struct {
	StoreConfig
}

func (s *storeSuite) newStore(t *testing.T) repository.Store {
	t.Helper()
	st := s.New(t)
	if st == nil {
		t.Fatal("StoreConfig.New returned a nil store")
	}
	return st
}

// bigSize spans several chunks of any reasonable copy loop: 256 KiB
// (the directory store's) and 32 KiB (io.Copy's).
const bigSize = 2<<18 + 17

func (s *storeSuite) testPutGet(t *testing.T) {
	st := s.newStore(t)
	ctx := t.Context()
	for _, tc := range []struct {
		name    string
		content []byte
	}{
		{"empty", nil},
		{"small", []byte("hello, world\n")},
		{"big", randomBytes(1, bigSize)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := put(t, st, tc.content)
			if got := get(t, st, d); !bytes.Equal(got, tc.content) {
				t.Errorf("Get(%s) returned %d bytes that differ from the %d put", d, len(got), len(tc.content))
			}
			info, err := st.Stat(ctx, d)
			if err != nil {
				t.Fatalf("Stat(%s): %v", d, err)
			}
			if want := (repository.Info{Digest: d, Size: int64(len(tc.content))}); info != want {
				t.Errorf("Stat(%s) = %+v, want %+v", d, info, want)
			}
			// The reader is a proper io.Reader: small reads, reads
			// after EOF, and io.Copy's path (WriteTo, if it has one).
			r, err := st.Get(ctx, d)
			if err != nil {
				t.Fatalf("Get(%s): %v", d, err)
			}
			defer r.Close()
			if err := iotest.TestReader(r, tc.content); err != nil {
				t.Errorf("Get(%s): %v", d, err)
			}
		})
	}
}

func (s *storeSuite) testIdempotent(t *testing.T) {
	st := s.newStore(t)
	content := []byte("same content")
	d := put(t, st, content)
	if again := put(t, st, content); again != d {
		t.Errorf("second Put of the same content = %s, first = %s", again, d)
	}
	if got := get(t, st, d); !bytes.Equal(got, content) {
		t.Errorf("after two Puts, Get(%s) = %q, want %q", d, got, content)
	}
}

func (s *storeSuite) testNotExist(t *testing.T) {
	st := s.newStore(t)
	ctx := t.Context()
	put(t, st, []byte("something else"))
	d := digest.FromString("never stored")
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, ebb.ErrNotExist) {
			t.Errorf("%s of a missing blob: %v, want an error wrapping ebb.ErrNotExist", op, err)
		} else if !strings.Contains(err.Error(), d.String()) {
			t.Errorf("%s of a missing blob: error %q does not name %s", op, err, d)
		}
	}
	r, err := st.Get(ctx, d)
	if err == nil {
		r.Close()
	}
	check("Get", err)
	_, err = st.Stat(ctx, d)
	check("Stat", err)
	dir := t.TempDir()
	check("GetFile", st.GetFile(ctx, d, filepath.Join(dir, "f")))
	if got := files(t, dir); len(got) > 0 {
		t.Errorf("GetFile of a missing blob left %q", got)
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

// checkInvalid reports unless err wraps ebb.ErrInvalid and names d, as it
// is or quoted.
func checkInvalid(t *testing.T, op string, d digest.Digest, err error) {
	t.Helper()
	if !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("%s(%q) = %v, want an error wrapping ebb.ErrInvalid", op, d, err)
		return
	}
	if msg := err.Error(); !strings.Contains(msg, strconv.Quote(string(d))) && (d == "" || !strings.Contains(msg, string(d))) {
		t.Errorf("%s(%q): error %q does not name the digest", op, d, err)
	}
}

func (s *storeSuite) testInvalid(t *testing.T) {
	st := s.newStore(t)
	ctx := t.Context()
	dir := t.TempDir()
	for _, d := range badDigests {
		r, err := protect(func() (io.ReadCloser, error) { return st.Get(ctx, d) })
		if err == nil {
			r.Close()
		}
		checkInvalid(t, "Get", d, err)
		_, err = protect(func() (repository.Info, error) { return st.Stat(ctx, d) })
		checkInvalid(t, "Stat", d, err)
		_, err = protect(func() (struct{}, error) { return struct{}{}, st.GetFile(ctx, d, filepath.Join(dir, "f")) })
		checkInvalid(t, "GetFile", d, err)
	}
	if got := files(t, dir); len(got) > 0 {
		t.Errorf("GetFile of malformed digests left %q", got)
	}
}

func (s *storeSuite) testCanceled(t *testing.T) {
	st := s.newStore(t)
	stored := put(t, st, []byte("stored before"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	canceled := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a done context: %v, want an error wrapping context.Canceled", op, err)
		}
	}
	content := []byte("put with a done context")
	_, err := st.Put(ctx, bytes.NewReader(content))
	canceled("Put", err)
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("put from a file with a done context"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = st.PutFile(ctx, file)
	canceled("PutFile", err)
	r, err := st.Get(ctx, stored)
	if err == nil {
		r.Close()
	}
	canceled("Get", err)
	_, err = st.Stat(ctx, stored)
	canceled("Stat", err)
	canceled("GetFile", st.GetFile(ctx, stored, filepath.Join(dir, "staged")))

	missing(t, st, digest.FromBytes(content), "after a Put with a done context")
	missing(t, st, digest.FromString("put from a file with a done context"), "after a PutFile with a done context")
	if got := files(t, dir); !slices.Equal(got, []string{"file"}) {
		t.Errorf("GetFile with a done context: the directory holds %q, want only [file]", got)
	}
}

// cancelReader returns n bytes of content, calling cancel once it has
// returned half of them.
type cancelReader struct {
	r      *bytes.Reader
	half   int64
	cancel context.CancelFunc
}

func (r *cancelReader) Read(p []byte) (int, error) {
	if r.r.Size()-int64(r.r.Len()) >= r.half {
		r.cancel()
	}
	return r.r.Read(p)
}

func (s *storeSuite) testPutFails(t *testing.T) {
	st := s.newStore(t)
	t.Run("reader fails", func(t *testing.T) {
		readErr := errors.New("reader broke")
		d, err := st.Put(t.Context(), io.MultiReader(strings.NewReader("some data"), iotest.ErrReader(readErr)))
		if err == nil {
			t.Errorf("Put of a reader that fails = %s, nil; want an error", d)
		}
		missing(t, st, digest.FromString("some data"), "after a Put whose reader failed")
	})
	t.Run("canceled while reading", func(t *testing.T) {
		// The reader goes on for 4 MiB after the cancel: a store that
		// checks its context while it reads stops long before.
		content := bytes.Repeat([]byte("canceled while reading\n"), 8<<20/23)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		d, err := st.Put(ctx, &cancelReader{r: bytes.NewReader(content), half: int64(len(content) / 2), cancel: cancel})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Put whose context ended while it read = %s, %v; want an error wrapping context.Canceled", d, err)
		}
		missing(t, st, digest.FromBytes(content), "after a Put whose context ended")
	})
}

// missing reports unless Stat says blob d is not stored.
func missing(t *testing.T, st repository.Store, d digest.Digest, when string) {
	t.Helper()
	if info, err := st.Stat(context.Background(), d); !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("%s: Stat(%s) = %+v, %v; want ebb.ErrNotExist: a failed call stored the blob", when, d, info, err)
	}
}

func (s *storeSuite) testCorrupt(t *testing.T) {
	if s.Damage == nil {
		t.Skip("StoreConfig.Damage is nil")
	}
	content := randomBytes(3, bigSize)
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
			st := s.newStore(t)
			ctx := t.Context()
			d := put(t, st, content)
			s.Damage(t, st, d, tc.edit(bytes.Clone(content)))

			reads := []struct {
				name string
				read func(io.Reader) error
			}{
				{"ReadAll", func(r io.Reader) error { _, err := io.ReadAll(r); return err }},
				{"Copy", func(r io.Reader) error { _, err := io.Copy(io.Discard, r); return err }},
				{"HalfReads", func(r io.Reader) error { _, err := io.ReadAll(iotest.HalfReader(r)); return err }},
			}
			for _, rd := range reads {
				r, err := st.Get(ctx, d)
				if err == nil {
					err = rd.read(r)
					r.Close()
				}
				if !errors.Is(err, ebb.ErrCorrupt) {
					t.Errorf("%s of a damaged blob: %v, want an error wrapping ebb.ErrCorrupt", rd.name, err)
				} else if !strings.Contains(err.Error(), d.String()) {
					t.Errorf("%s of a damaged blob: error %q does not name %s", rd.name, err, d)
				}
			}

			// A damaged blob is not staged either, and the file that
			// was at path stays as it was.
			path := filepath.Join(t.TempDir(), "input")
			if err := os.WriteFile(path, []byte("before"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := st.GetFile(ctx, d, path); !errors.Is(err, ebb.ErrCorrupt) {
				t.Errorf("GetFile of a damaged blob: %v, want an error wrapping ebb.ErrCorrupt", err)
			}
			if b, err := os.ReadFile(path); err != nil || string(b) != "before" {
				t.Errorf("after a failed GetFile, %s holds %.20q (%d bytes), %v; want %q", path, b, len(b), err, "before")
			}
			if got := files(t, filepath.Dir(path)); len(got) != 1 {
				t.Errorf("GetFile of a damaged blob left files behind: %q", got)
			}
		})
	}
}

func (s *storeSuite) testConcurrent(t *testing.T) {
	st := s.newStore(t)
	const workers = 8
	shared := make([][]byte, 4)
	for i := range shared {
		shared[i] = randomBytes(uint64(100+i), (i+1)*80<<10)
	}
	var wg sync.WaitGroup
	errc := make(chan error, 2*workers)
	// All workers start at once, so that their Puts overlap even on a
	// busy machine that would otherwise run one to its end before the
	// next begins.
	var ready sync.WaitGroup
	ready.Add(workers)
	start := make(chan struct{})
	for w := range workers {
		dir := t.TempDir()
		wg.Go(func() {
			ready.Done()
			<-start
			ctx := context.Background()
			mine := []byte(fmt.Sprintf("worker %d", w))
			for i := range shared {
				// Start at different places so that workers collide
				// on every blob, not only the first.
				b := shared[(i+w)%len(shared)]
				d, err := st.Put(ctx, bytes.NewReader(b))
				if err != nil || d != digest.FromBytes(b) {
					errc <- fmt.Errorf("worker %d: Put(%d bytes) = %s, %v; want %s", w, len(b), d, err, digest.FromBytes(b))
					return
				}
				// What was just put reads back whole, while others
				// put it again.
				path := filepath.Join(dir, strconv.Itoa(i))
				if err := st.GetFile(ctx, d, path); err != nil {
					errc <- fmt.Errorf("worker %d: GetFile(%s): %v", w, d, err)
					return
				}
				if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, b) {
					errc <- fmt.Errorf("worker %d: GetFile(%s) staged %d bytes (%v) that differ from the %d put", w, d, len(got), err, len(b))
					return
				}
			}
			if d, err := st.Put(ctx, bytes.NewReader(mine)); err != nil || d != digest.FromBytes(mine) {
				errc <- fmt.Errorf("worker %d: Put(%q) = %s, %v", w, mine, d, err)
			}
		})
	}
	ready.Wait()
	close(start)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	for _, b := range shared {
		d := digest.FromBytes(b)
		if got := get(t, st, d); !bytes.Equal(got, b) {
			t.Errorf("blob %s differs after concurrent Puts", d)
		}
	}
	for w := range workers {
		mine := []byte(fmt.Sprintf("worker %d", w))
		if got := get(t, st, digest.FromBytes(mine)); !bytes.Equal(got, mine) {
			t.Errorf("blob of worker %d = %q, want %q", w, got, mine)
		}
	}
}

// put stores content in st and checks the digest.
func put(t *testing.T, st repository.Store, content []byte) digest.Digest {
	t.Helper()
	d, err := st.Put(context.Background(), bytes.NewReader(content))
	if err != nil {
		t.Fatalf("Put(%d bytes): %v", len(content), err)
	}
	if want := digest.FromBytes(content); d != want {
		t.Fatalf("Put(%d bytes) = %s, want %s (the sha256 of the content)", len(content), d, want)
	}
	return d
}

// get reads blob d of st to its end.
func get(t *testing.T, st repository.Store, d digest.Digest) []byte {
	t.Helper()
	r, err := st.Get(context.Background(), d)
	if err != nil {
		t.Fatalf("Get(%s): %v", d, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("Get(%s): read: %v", d, err)
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

// files returns the names of the entries of dir, hidden ones included.
func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names
}

// protect calls f, turning a panic into an error, so that one bad call
// fails its subtest rather than the whole test binary.
func protect[T any](f func() (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return f()
}
