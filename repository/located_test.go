package repository_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/repository"
	"github.com/ebbflow/ebb/repository/repositorytest"
	"github.com/opencontainers/go-digest"
)

// fakePeers serves blobs by holder from memory and counts what it sends.
type fakePeers struct {
	mu    sync.Mutex
	blobs map[string]map[digest.Digest][]byte
	opens atomic.Int64
	bytes atomic.Int64
}

func (p *fakePeers) keep(holder string, b []byte) digest.Digest {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.blobs == nil {
		p.blobs = map[string]map[digest.Digest][]byte{}
	}
	if p.blobs[holder] == nil {
		p.blobs[holder] = map[digest.Digest][]byte{}
	}
	d := digest.FromBytes(b)
	p.blobs[holder][d] = b
	return d
}

func (p *fakePeers) Open(ctx context.Context, holder string, d digest.Digest) (io.ReadCloser, error) {
	p.mu.Lock()
	b, ok := p.blobs[holder][d]
	p.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("peer %s: %s: %w", holder, d, ebb.ErrUnavailable)
	}
	p.opens.Add(1)
	p.bytes.Add(int64(len(b)))
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (p *fakePeers) Stat(ctx context.Context, holder string, d digest.Digest) (repository.Info, error) {
	p.mu.Lock()
	b, ok := p.blobs[holder][d]
	p.mu.Unlock()
	if !ok {
		return repository.Info{}, fmt.Errorf("peer %s: %s: %w", holder, d, ebb.ErrNotExist)
	}
	return repository.Info{Digest: d, Size: int64(len(b))}, nil
}

func newLocated(t *testing.T, peers repository.Peers) *repository.Located {
	d, err := repository.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return repository.NewLocated(d, peers)
}

// TestLocatedConformance: a Located is a Store like any other.
func TestLocatedConformance(t *testing.T) {
	repositorytest.RunStore(t, repositorytest.StoreConfig{
		New: func(t *testing.T) repository.Store { return newLocated(t, &fakePeers{}) },
		Damage: func(t *testing.T, s repository.Store, d digest.Digest, content []byte) {
			repository.Overwrite(t, repository.BlobPath(s.(*repository.Located).Store.(*repository.Dir), d), content)
		},
	})
}

// TestLocatedPullsOnce: a blob held by a worker is known to Stat without
// a copy, and read by the driver with one copy from its holder however
// often it is read; a holder that fails gives way to the next.
func TestLocatedPullsOnce(t *testing.T) {
	ctx := t.Context()
	peers := &fakePeers{}
	content := bytes.Repeat([]byte("intermediate "), 1000)
	d := peers.keep("w2", content)
	l := newLocated(t, peers)
	for _, h := range []string{"w1", "w2", "w1"} { // w1 says so but lost it
		if err := l.Hold(ctx, d, int64(len(content)), h); err != nil {
			t.Fatal(err)
		}
	}
	if hs, size := l.Holders(d); len(hs) != 2 || size != int64(len(content)) {
		t.Errorf("Holders = %v, %d; want [w1 w2], %d", hs, size, len(content))
	}
	if info, err := l.Stat(ctx, d); err != nil || info.Size != int64(len(content)) {
		t.Errorf("Stat = %+v, %v", info, err)
	}
	if peers.bytes.Load() != 0 {
		t.Errorf("Stat moved %d bytes", peers.bytes.Load())
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			rc, err := l.Get(ctx, d)
			if err != nil {
				t.Error(err)
				return
			}
			defer rc.Close()
			if b, err := io.ReadAll(rc); err != nil || !bytes.Equal(b, content) {
				t.Errorf("Get: %d bytes, %v", len(b), err)
			}
		})
	}
	wg.Wait()
	if got := peers.bytes.Load(); got != int64(len(content)) {
		t.Errorf("bytes from holders = %d, want %d (one copy)", got, len(content))
	}
}

// TestLocatedForget: a blob whose holders are all lost is missing.
func TestLocatedForget(t *testing.T) {
	ctx := t.Context()
	peers := &fakePeers{}
	d := peers.keep("w1", []byte("gone with w1"))
	l := newLocated(t, peers)
	if err := l.Hold(ctx, d, 12, "w1"); err != nil {
		t.Fatal(err)
	}
	l.Forget("w1")
	if _, err := l.Stat(ctx, d); !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("Stat after Forget: %v, want ErrNotExist", err)
	}
	if err := l.Pull(ctx, d); !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("Pull after Forget: %v, want ErrNotExist", err)
	}
	if err := l.Hold(ctx, "sha256:nothex", 1, "w1"); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("Hold of a malformed digest: %v, want ErrInvalid", err)
	}
	if err := l.Hold(ctx, d, 1, ""); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("Hold without holder: %v, want ErrInvalid", err)
	}
}

// TestLocatedCorruptHolder: content that does not match its digest is
// refused.
func TestLocatedCorruptHolder(t *testing.T) {
	ctx := t.Context()
	peers := &fakePeers{}
	peers.keep("liar", []byte("other content"))
	d := digest.FromString("wanted content")
	peers.mu.Lock()
	peers.blobs["liar"][d] = []byte("other content")
	peers.mu.Unlock()
	l := newLocated(t, peers)
	if err := l.Hold(ctx, d, 14, "liar"); err != nil {
		t.Fatal(err)
	}
	if err := l.Pull(ctx, d); !errors.Is(err, ebb.ErrCorrupt) {
		t.Errorf("Pull from a lying holder: %v, want ErrCorrupt", err)
	}
}

// TestLocatedProbe: Probe drops the holders that no longer have a blob,
// and says a blob none has is missing.
func TestLocatedProbe(t *testing.T) {
	ctx := t.Context()
	peers := &fakePeers{}
	d := peers.keep("w2", []byte("kept by w2"))
	l := newLocated(t, peers)
	for _, h := range []string{"w1", "w2"} {
		if err := l.Hold(ctx, d, 10, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Probe(ctx, d); err != nil {
		t.Fatalf("Probe with w2 holding: %v", err)
	}
	if hs, _ := l.Holders(d); len(hs) != 1 || hs[0] != "w2" {
		t.Errorf("Holders after Probe = %v, want [w2]", hs)
	}
	peers.mu.Lock()
	delete(peers.blobs["w2"], d)
	peers.mu.Unlock()
	if err := l.Probe(ctx, d); !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("Probe with no holder left: %v, want ErrNotExist", err)
	}
	if peers.bytes.Load() != 0 {
		t.Errorf("Probe moved %d bytes", peers.bytes.Load())
	}
}
