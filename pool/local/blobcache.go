package local

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/regfile"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/singleflight"
)

// DefaultBlobCacheBytes is BlobCacheConfig.MaxBytes when it is zero.
const DefaultBlobCacheBytes = 8 << 30

// BlobCacheConfig configures a BlobCache.
type BlobCacheConfig struct {
	// Dir holds the cached blobs, one file each, named by digest. It is
	// made if missing; blobs left there by an earlier cache are kept,
	// as fetched copies, and verified when read.
	Dir string
	// MaxBytes bounds the bytes of fetched copies the cache keeps; past
	// it, the least recently used are removed. Blobs put into the cache
	// (a task's outputs) do not count and are never removed: they may be
	// the only copy. Zero means DefaultBlobCacheBytes.
	MaxBytes int64
	// Origin is where the cache fetches a blob it lacks. Put stores a
	// blob in Origin too, unless Origin is a Holder: then the cache keeps
	// the content and only tells Origin that it holds it.
	Origin pool.Repository
}

// A Holder is an origin that records where blobs are instead of storing
// them: a BlobCache put a blob of size bytes and keeps it, so that
// whoever wants it fetches it from here.
type Holder interface {
	Hold(ctx context.Context, d digest.Digest, size int64) error
}

// BlobCacheStats counts what a BlobCache did. Bytes are blob contents.
type BlobCacheStats struct {
	Hits, Misses  int64 // Get and GetFile calls served from the cache, and fetched
	FetchedBytes  int64 // read from Origin
	Evicted       int64 // fetched copies removed to keep within MaxBytes
	Corrupt       int64 // cached copies that failed verification (and were removed)
	KeptBytes     int64 // held now: blobs put into the cache
	CachedBytes   int64 // held now: fetched copies
	UploadedBytes int64 // stored in Origin by Put (not a Holder)
}

// A BlobCache is a worker's store of blobs by digest: a pool.Repository
// in front of an Origin (the driver's repository, or peers found through
// it). A blob is fetched from Origin the first time it is wanted, once
// however many callers want it at the same moment, and read from the
// cache after; every read is verified against the digest, and a copy
// that fails is removed and fetched again. Fetched copies are bounded
// by MaxBytes and evicted least recently used first; an evicted copy
// that a reader has open stays readable through it.
//
// Make one with NewBlobCache. It is safe for concurrent use; mu guards
// entries, lru and cached, and no I/O happens while it is held.
type BlobCache struct {
	cfg     BlobCacheConfig
	fetches singleflight.Group

	mu      sync.Mutex
	entries map[digest.Digest]*cacheEntry
	lru     list.List // of *cacheEntry not kept, most recently used first
	cached  int64     // bytes of the entries in lru
	kept    int64

	hits, misses, fetched, evicted, corrupt, uploaded atomic.Int64
}

type cacheEntry struct {
	d    digest.Digest
	size int64
	kept bool
	elem *list.Element // in lru, when not kept
}

var _ pool.Repository = (*BlobCache)(nil)

// NewBlobCache makes cfg.Dir if missing and returns a cache over it,
// counting the blobs already there as fetched copies. It fails with
// ebb.ErrInvalid without Dir or Origin, or with a negative MaxBytes.
func NewBlobCache(cfg BlobCacheConfig) (*BlobCache, error) {
	switch {
	case cfg.Dir == "":
		return nil, fmt.Errorf("local: BlobCacheConfig.Dir is empty: %w", ebb.ErrInvalid)
	case cfg.Origin == nil:
		return nil, fmt.Errorf("local: BlobCacheConfig.Origin is nil: %w", ebb.ErrInvalid)
	case cfg.MaxBytes < 0:
		return nil, fmt.Errorf("local: BlobCacheConfig.MaxBytes %d: must not be negative: %w", cfg.MaxBytes, ebb.ErrInvalid)
	case cfg.MaxBytes == 0:
		cfg.MaxBytes = DefaultBlobCacheBytes
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("local: blob cache: %w", err)
	}
	c := &BlobCache{cfg: cfg, entries: make(map[digest.Digest]*cacheEntry)}
	des, err := os.ReadDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("local: blob cache: %w", err)
	}
	for _, de := range des {
		d, ok := cacheDigest(de.Name())
		if !ok {
			continue
		}
		if info, err := de.Info(); err == nil && info.Mode().IsRegular() {
			c.add(d, info.Size(), false)
		}
	}
	c.evict()
	return c, nil
}

// cacheDigest parses a cache file's name.
func cacheDigest(name string) (digest.Digest, bool) {
	alg, enc, ok := strings.Cut(name, "-")
	if !ok {
		return "", false
	}
	d := digest.NewDigestFromEncoded(digest.Algorithm(alg), enc)
	return d, d.Validate() == nil && d.Algorithm() == digest.SHA256
}

func (c *BlobCache) path(d digest.Digest) string {
	return filepath.Join(c.cfg.Dir, d.Algorithm().String()+"-"+d.Encoded())
}

func checkCacheDigest(op string, d digest.Digest) error {
	if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
		return fmt.Errorf("local: blob cache: %s: digest %q: want sha256:<64 hex digits>: %w", op, d, ebb.ErrInvalid)
	}
	return nil
}

// add records a blob now in the directory; a kept blob stays kept.
func (c *BlobCache) add(d digest.Digest, size int64, kept bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[d]; ok {
		if kept && !e.kept {
			c.lru.Remove(e.elem)
			c.cached -= e.size
			e.elem, e.kept = nil, true
			c.kept += e.size
		} else if !e.kept {
			c.lru.MoveToFront(e.elem)
		}
		return
	}
	e := &cacheEntry{d: d, size: size, kept: kept}
	c.entries[d] = e
	if kept {
		c.kept += size
		return
	}
	e.elem = c.lru.PushFront(e)
	c.cached += size
}

// touch marks d used, and reports whether the cache has it.
func (c *BlobCache) touch(d digest.Digest) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[d]
	if ok && !e.kept {
		c.lru.MoveToFront(e.elem)
	}
	return ok
}

// drop forgets d, kept or not.
func (c *BlobCache) drop(d digest.Digest) {
	c.mu.Lock()
	e, ok := c.entries[d]
	if ok {
		delete(c.entries, d)
		if e.kept {
			c.kept -= e.size
		} else {
			c.lru.Remove(e.elem)
			c.cached -= e.size
		}
	}
	c.mu.Unlock()
}

// evict removes the least recently used fetched copies until they fit
// in MaxBytes.
func (c *BlobCache) evict() {
	var gone []digest.Digest
	c.mu.Lock()
	for c.cached > c.cfg.MaxBytes && c.lru.Len() > 0 {
		e := c.lru.Remove(c.lru.Back()).(*cacheEntry)
		delete(c.entries, e.d)
		c.cached -= e.size
		gone = append(gone, e.d)
	}
	c.mu.Unlock()
	for _, d := range gone {
		os.Remove(c.path(d))
		c.evicted.Add(1)
	}
}

// Stats returns the cache's counts now.
func (c *BlobCache) Stats() BlobCacheStats {
	c.mu.Lock()
	kept, cached := c.kept, c.cached
	c.mu.Unlock()
	return BlobCacheStats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), FetchedBytes: c.fetched.Load(),
		Evicted: c.evicted.Load(), Corrupt: c.corrupt.Load(), KeptBytes: kept, CachedBytes: cached,
		UploadedBytes: c.uploaded.Load(),
	}
}

// Has reports whether the cache holds d now, without reading it.
func (c *BlobCache) Has(d digest.Digest) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.entries[d]
	return ok
}

// Size returns the size of blob d if the cache holds it, or fails with
// ebb.ErrNotExist; it neither fetches nor verifies.
func (c *BlobCache) Size(d digest.Digest) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[d]; ok {
		return e.size, nil
	}
	return 0, fmt.Errorf("local: blob cache: %s: %w", d, ebb.ErrNotExist)
}

// Local opens blob d only if the cache holds it, without fetching: what
// a peer serving the cache to others reads. The reader fails with
// ebb.ErrCorrupt at its end if the content does not match d (and the
// copy is removed).
func (c *BlobCache) Local(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
	if err := checkCacheDigest("get "+string(d), d); err != nil {
		return nil, err
	}
	if !c.touch(d) {
		return nil, fmt.Errorf("local: blob cache: %s: %w", d, ebb.ErrNotExist)
	}
	f, err := os.Open(c.path(d))
	if errors.Is(err, fs.ErrNotExist) {
		c.drop(d)
		return nil, fmt.Errorf("local: blob cache: %s: %w", d, ebb.ErrNotExist)
	} else if err != nil {
		return nil, fmt.Errorf("local: blob cache: %w", err)
	}
	return &cacheReader{ctx: ctx, f: f, c: c, d: d, h: digest.SHA256.Hash()}, nil
}

// Get opens blob d, from the cache or, the first time, from Origin. The
// reader fails at its end with ebb.ErrCorrupt if the content does not
// match d; a corrupt cached copy is removed, so that the next Get fetches
// it again. The caller closes the reader.
func (c *BlobCache) Get(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
	if _, err := c.ensure(ctx, d); err != nil {
		return nil, err
	}
	return c.Local(ctx, d)
}

// GetFile writes blob d to a new read-only file at path, fetching it
// first if need be. The cached copy is verified, then hard-linked to path
// (copied where a link cannot be made); a copy that fails verification is
// removed and fetched once more.
func (c *BlobCache) GetFile(ctx context.Context, d digest.Digest, path string) error {
	_, err := c.GetFileFrom(ctx, d, path)
	return err
}

// GetFileFrom is GetFile, returning where the content came from:
// pool.WhereCache when the cache had it, or else where Origin got it (a
// Sourced origin says: pool.WherePeer, pool.WhereDriver), by default
// pool.WhereRepository. A caller that shared another's fetch reports
// the fetch's.
func (c *BlobCache) GetFileFrom(ctx context.Context, d digest.Digest, path string) (string, error) {
	where := pool.WhereCache
	for try := 0; ; try++ {
		w, err := c.ensure(ctx, d)
		if err != nil {
			return "", err
		}
		if w != pool.WhereCache {
			where = w
		}
		err = c.linkVerified(ctx, d, path)
		if errors.Is(err, ebb.ErrCorrupt) && try == 0 {
			continue
		}
		return where, err
	}
}

// PutWhere says where the blobs put into the cache go (pool.Transfer's
// Where): nowhere but the cache, whose origin only hears that it holds
// them, when the origin is a Holder; else the origin too.
func (c *BlobCache) PutWhere() string {
	if _, ok := c.cfg.Origin.(Holder); ok {
		if hw, ok := c.cfg.Origin.(interface{ HoldWhere() string }); ok {
			return hw.HoldWhere() // a Holder that may store blobs after all
		}
		return pool.WhereCache
	}
	return putWhere(c.cfg.Origin)
}

// A Sourced origin says where a blob it opens comes from (pool.Transfer's
// Where): remote.PeerOrigin does.
type Sourced interface {
	GetFrom(ctx context.Context, d digest.Digest) (io.ReadCloser, string, error)
}

// linkVerified verifies the cached copy of d and links it to path.
func (c *BlobCache) linkVerified(ctx context.Context, d digest.Digest, path string) error {
	r, err := c.Local(ctx, d)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, r)
	r.Close()
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), ".ebb-link-"+d.Encoded()[:16])
	os.Remove(tmp)
	if err := os.Link(c.path(d), tmp); err != nil {
		// Another file system, or the copy was just evicted: copy it.
		return c.copyTo(ctx, d, path)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("local: blob cache: %w", err)
	}
	return nil
}

func (c *BlobCache) copyTo(ctx context.Context, d digest.Digest, path string) (err error) {
	r, err := c.Local(ctx, d)
	if err != nil {
		return err
	}
	defer r.Close()
	return writeFile(filepath.Dir(path), path, r)
}

// ensure puts d in the cache, fetching it from Origin unless it is
// there. Concurrent ensures of one digest share one fetch; a fetch
// stopped because its caller's ctx ended is tried again by the others.
//
// It returns where the content came from: pool.WhereCache when it was
// there, or else fetch's.
func (c *BlobCache) ensure(ctx context.Context, d digest.Digest) (string, error) {
	if err := checkCacheDigest("get "+string(d), d); err != nil {
		return "", err
	}
	if c.touch(d) {
		c.hits.Add(1)
		return pool.WhereCache, nil
	}
	for {
		where, err, _ := c.fetches.Do(string(d), func() (any, error) {
			if c.touch(d) {
				return pool.WhereCache, nil
			}
			c.misses.Add(1)
			return c.fetch(ctx, d)
		})
		switch {
		case ctx.Err() != nil:
			return "", ctx.Err()
		case err != nil && isContextErr(err):
			continue // the caller that fetched was stopped; this one was not
		case err != nil:
			return "", err
		}
		return where.(string), nil
	}
}

// fetch copies d from Origin into the cache, checking it against d, and
// returns where Origin got it.
func (c *BlobCache) fetch(ctx context.Context, d digest.Digest) (string, error) {
	where := putWhere(c.cfg.Origin)
	var r io.ReadCloser
	var err error
	if s, ok := c.cfg.Origin.(Sourced); ok {
		r, where, err = s.GetFrom(ctx, d)
	} else {
		r, err = c.cfg.Origin.Get(ctx, d)
	}
	if err != nil {
		return "", err
	}
	defer r.Close()
	h := &hashingReader{r: r, h: digest.SHA256.Hash()}
	if err := writeFile(c.cfg.Dir, c.path(d), h); err != nil {
		return "", fmt.Errorf("local: blob cache: fetch %s: %w", d, err)
	}
	c.fetched.Add(h.n)
	if got := digest.NewDigest(digest.SHA256, h.h); got != d {
		os.Remove(c.path(d))
		return "", fmt.Errorf("local: blob cache: fetched %s has digest %s: %w", d, got, ebb.ErrCorrupt)
	}
	c.add(d, h.n, false)
	c.evict()
	return where, nil
}

// Put stores the content of r in the cache, kept (never evicted), and
// returns its digest. With an Origin that is a Holder, the cache only
// tells it that it holds the blob; otherwise it stores the blob there
// too. Either way a failure of Origin fails the Put.
func (c *BlobCache) Put(ctx context.Context, r io.Reader) (digest.Digest, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	h := &hashingReader{r: r, h: digest.SHA256.Hash()}
	f, err := os.CreateTemp(c.cfg.Dir, ".ebb-put-*")
	if err != nil {
		return "", fmt.Errorf("local: blob cache: put: %w", err)
	}
	_, err = io.Copy(f, ctxReader{ctx, h})
	if err == nil {
		err = f.Chmod(0o444)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	d := digest.NewDigest(digest.SHA256, h.h)
	if err == nil {
		err = os.Rename(f.Name(), c.path(d))
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("local: blob cache: put: %w", err)
	}
	c.add(d, h.n, true)
	if hd, ok := c.cfg.Origin.(Holder); ok {
		if err := hd.Hold(ctx, d, h.n); err != nil {
			return "", fmt.Errorf("local: blob cache: put %s: %w", d, err)
		}
		return d, nil
	}
	up, err := os.Open(c.path(d))
	if err != nil {
		return "", fmt.Errorf("local: blob cache: put %s: %w", d, err)
	}
	defer up.Close()
	if _, err := c.cfg.Origin.Put(ctx, up); err != nil {
		return "", fmt.Errorf("local: blob cache: put %s: %w", d, err)
	}
	c.uploaded.Add(h.n)
	return d, nil
}

// PutFile stores the content of the regular file at path, as Put.
func (c *BlobCache) PutFile(ctx context.Context, path string) (digest.Digest, error) {
	d, err := regfile.Put(ctx, path, c.Put)
	if err != nil {
		return "", fmt.Errorf("local: blob cache: %w", err)
	}
	return d, nil
}

type hashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (r *hashingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.h.Write(p[:n])
	r.n += int64(n)
	return n, err
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// A cacheReader reads a cached blob and verifies it at its end; a copy
// that fails is removed from the cache.
type cacheReader struct {
	ctx context.Context
	f   *os.File
	c   *BlobCache
	d   digest.Digest
	h   hash.Hash
	err error
}

func (r *cacheReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if err := r.ctx.Err(); err != nil {
		r.err = err
		return 0, err
	}
	n, err := r.f.Read(p)
	r.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		if got := digest.NewDigest(digest.SHA256, r.h); got != r.d {
			r.c.corrupt.Add(1)
			r.c.drop(r.d)
			os.Remove(r.c.path(r.d))
			err = fmt.Errorf("local: blob cache: %s: content has digest %s: %w", r.d, got, ebb.ErrCorrupt)
		}
	}
	if err != nil {
		r.err = err
	}
	return n, err
}

func (r *cacheReader) Close() error { return r.f.Close() }
