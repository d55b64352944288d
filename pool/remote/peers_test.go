package remote_test

import (
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool/remote"
	"github.com/opencontainers/go-digest"
)

// countingTransport counts the requests it carries.
type countingTransport struct {
	n  atomic.Int64
	rt http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.rt.RoundTrip(r)
}

// A holder whose address refuses connections has stopped: Peers asks it
// once and fails with ebb.ErrUnavailable, rather than retrying it for
// Timeout (seconds of a run's time per blob it was said to hold).
func TestPeersHolderRefusing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody listens there now
	tr := &countingTransport{rt: &http.Transport{}}
	p, err := remote.NewPeers(remote.PeersConfig{Token: remote.NewToken(), Timeout: 3 * time.Second, Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	d := digest.FromString("held by a stopped worker")
	holder := remote.Holder("http://"+addr, "")
	if _, err := p.Stat(t.Context(), holder, d); !errors.Is(err, ebb.ErrUnavailable) {
		t.Errorf("Stat: %v, want ebb.ErrUnavailable", err)
	}
	if _, err := p.Open(t.Context(), holder, d); !errors.Is(err, ebb.ErrUnavailable) {
		t.Errorf("Open: %v, want ebb.ErrUnavailable", err)
	}
	if n := tr.n.Load(); n != 2 {
		t.Errorf("%d attempts for a Stat and an Open, want 1 each: a refused connection is final", n)
	}
}
