package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/internal/counting"
	"github.com/ebbflow/ebb/pool/remote"
	"github.com/ebbflow/ebb/repository"
	"github.com/opencontainers/go-digest"
)

// peerTransfer is how the workers of -workers move blobs between them
// (-peers, the default): each keeps what it makes and serves it to the
// others with the run's peer token; the driver's repository only
// locates blobs (repository.Located), and copies in those it reads
// itself, the outputs the flow's caller asked for. Workers that share
// the run's repository directory (procs, shared_repository) need none
// of it and ignore it.
//
// With off set (-peers=false) it only counts: the workers stage every
// blob through the driver's repository.
type peerTransfer struct {
	off     bool
	located *repository.Located
	token   string
	peers   *remote.Peers
	// counter counts what the driver's blob server moves; pulled what
	// the driver copied from the workers.
	counter bootstrap.BlobCounter
	pulled  atomic.Int64
}

// peerTokenFile holds the run's peer token under -dir, mode 0600, so
// that a resumed run hands its new workers the token its adopted ones
// hold. It is in no State.
const peerTokenFile = "peer-token"

// peerLocationsFile, under -dir, says which worker holds each blob that
// stayed on one (repository.Located.Keep), so that a resumed run finds
// the outputs of tasks that its killed predecessor saw end on workers
// it adopts, and does not run them again.
const peerLocationsFile = "peer-locations"

// newPeerTransfer reads the run's peer token from dir, or makes and
// keeps one, and locates blobs over repo; with off, it only counts.
func newPeerTransfer(dir string, repo *repository.Dir, off bool) (*peerTransfer, error) {
	if off {
		return &peerTransfer{off: true}, nil
	}
	path := filepath.Join(dir, peerTokenFile)
	b, err := os.ReadFile(path)
	token := strings.TrimSpace(string(b))
	switch {
	case errors.Is(err, fs.ErrNotExist) || err == nil && remote.CheckToken(token) != nil:
		token = remote.NewToken()
		if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("keeping the peer token: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("reading the peer token: %w", err)
	}
	peers, err := remote.NewPeers(remote.PeersConfig{Token: token})
	if err != nil {
		return nil, err
	}
	t := &peerTransfer{token: token, peers: peers}
	t.located = repository.NewLocated(repo, countingPeers{peers, &t.pulled})
	if err := t.located.Keep(filepath.Join(dir, peerLocationsFile)); err != nil {
		peers.Close()
		return nil, err
	}
	return t, nil
}

// summary says what crossed the driver.
func (t *peerTransfer) summary() string {
	return fmt.Sprintf("blobs through ebb: %d bytes sent to workers, %d received from them, %d copied from their peer servers",
		t.counter.Sent(), t.counter.Received(), t.pulled.Load())
}

// forgetHolders drops where the run's workers keep blobs, in
// peerLocationsFile too, once they are all stopped: a later run of the
// -dir must not wait on them. t may be nil, or off.
func (t *peerTransfer) forgetHolders() error {
	if t == nil || t.located == nil {
		return nil
	}
	return t.located.Clear()
}

func (t *peerTransfer) close() {
	if t.peers != nil {
		t.peers.Close()
	}
	if t.located != nil {
		t.located.Close()
	}
}

// countingPeers counts the blob content read from peers.
type countingPeers struct {
	*remote.Peers
	n *atomic.Int64
}

func (p countingPeers) Open(ctx context.Context, holder string, d digest.Digest) (io.ReadCloser, error) {
	rc, err := p.Peers.Open(ctx, holder, d)
	if err != nil {
		return nil, err
	}
	return counting.ReadCloser{ReadCloser: rc, N: p.n}, nil
}
