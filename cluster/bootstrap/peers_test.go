package bootstrap_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/pool/remote"
	"github.com/ebbflow/ebb/repository"
)

// TestPeerToken: with PeerToken, workers start with -peers and the
// token reaches them only in the answer to their announcement that they
// are up: never in their command line or environment, never to another
// worker's token, never to a departure.
func TestPeerToken(t *testing.T) {
	dir, err := repository.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	peer := remote.NewToken()
	b := newBootstrap(t, bootstrap.Config{NoTLS: true, Blobs: dir, PeerToken: peer})
	e, err := b.Expect("w1", small)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(e.Argv, "-peers") || !slices.Contains(e.Argv, "-driver-blobs") {
		t.Errorf("Argv %q: want -driver-blobs and -peers", e.Argv)
	}
	for _, s := range append(slices.Clone(e.Argv), e.Env...) {
		if strings.Contains(s, peer) {
			t.Errorf("the peer token is in the worker's command line or environment: %q", s)
		}
	}
	ctx := t.Context()
	cfg := remote.ClientConfig{URL: b.URL(), Token: e.Token(), Timeout: 5 * time.Second}
	a := remote.Announcement{ID: "w1", URL: "http://127.0.0.1:1", Resources: small.Resources, State: remote.StateUp}
	if reply, err := remote.AnnounceFor(ctx, cfg, a); err != nil || reply.PeerToken != peer {
		t.Errorf("AnnounceFor up = %+v, %v; want the peer token", reply, err)
	}
	a.State = remote.StateLeaving
	if reply, err := remote.AnnounceFor(ctx, cfg, a); err != nil || reply.PeerToken != "" {
		t.Errorf("AnnounceFor leaving = %+v, %v; want no token", reply, err)
	}
	a.State = remote.StateUp
	cfg.Token = remote.NewToken()
	if reply, err := remote.AnnounceFor(ctx, cfg, a); !errors.Is(err, remote.ErrAuth) || reply.PeerToken != "" {
		t.Errorf("AnnounceFor with another token = %+v, %v; want ErrAuth and no token", reply, err)
	}

	// Without PeerToken, no -peers and no token.
	b2 := newBootstrap(t, bootstrap.Config{NoTLS: true, Blobs: dir})
	e2, err := b2.Expect("w2", small)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(e2.Argv, "-peers") {
		t.Errorf("Argv %q without PeerToken has -peers", e2.Argv)
	}
	a.ID = "w2"
	if reply, err := remote.AnnounceFor(ctx, remote.ClientConfig{URL: b2.URL(), Token: e2.Token(), Timeout: 5 * time.Second}, a); err != nil || reply.PeerToken != "" {
		t.Errorf("AnnounceFor without PeerToken = %+v, %v", reply, err)
	}

	// A PeerToken needs Blobs, and must be a token.
	for _, cfg := range []bootstrap.Config{
		{Command: []string{"ebb"}, PeerToken: peer},
		{Command: []string{"ebb"}, Blobs: dir, PeerToken: "short"},
	} {
		if b, err := bootstrap.New(cfg); !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("New with PeerToken %q, Blobs %v = %v, want ErrInvalid", cfg.PeerToken, cfg.Blobs != nil, err)
			if b != nil {
				b.Close()
			}
		}
	}
}
