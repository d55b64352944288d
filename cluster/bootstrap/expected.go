package bootstrap

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool/remote"
)

// Expected is a worker that a Bootstrap waits for: what to start it with,
// and its announcement once it serves. It is safe for concurrent use.
type Expected struct {
	// Argv is the worker's command line: Config.Command and the flags
	// that make it serve the shape and announce itself. The caller must
	// not change it.
	Argv []string
	// Env holds what the worker's environment must add, EBB_TOKEN=…: the
	// token is a secret, so it travels here and never in Argv.
	Env []string

	b     *Bootstrap
	id    cluster.WorkerID
	shape cluster.Shape
	token string
	key   [sha256.Size]byte
	blobs *remote.Server // the driver's repository, for this worker; nil without Config.Blobs

	once      sync.Once // closes upc
	upc       chan struct{}
	announced remote.Announcement // set before upc closes
	lostOnce  sync.Once
	gonec     chan struct{}
}

// ID returns the worker's name, as given to Expect.
func (e *Expected) ID() cluster.WorkerID { return e.id }

// Token returns the worker's token, for an engine that needs it apart
// from Env (a file of the worker's, say).
func (e *Expected) Token() string { return e.token }

// Gone returns a channel closed once the worker is gone: it announced
// that it leaves, or the caller called Lost or Forget.
func (e *Expected) Gone() <-chan struct{} { return e.gonec }

// Lost closes Gone: the caller knows the worker is gone (its job ended,
// its node failed). Its client's calls on allocs fail with
// ebb.ErrExpired from then on. Lost is idempotent.
func (e *Expected) Lost() { e.lostOnce.Do(func() { close(e.gonec) }) }

// up records the worker's announcement, the first one only.
func (e *Expected) up(a remote.Announcement) {
	e.once.Do(func() {
		e.announced = a
		close(e.upc)
	})
}

// Announced returns the worker's announcement and true once it has
// announced itself up.
func (e *Expected) Announced() (remote.Announcement, bool) {
	select {
	case <-e.upc:
		return e.announced, true
	default:
		return remote.Announcement{}, false
	}
}

// Wait waits for the worker to announce itself, then connects to it: the
// returned client checks the announced certificate pin and carries the
// worker's token, and its calls fail once Gone is closed. Wait fails with
// an error wrapping ebb.ErrUnavailable when the worker is gone before it
// announced itself or does not answer at its address, and with ctx's
// error when ctx is done first. The caller closes the client.
func (e *Expected) Wait(ctx context.Context) (*remote.Client, error) {
	select {
	case <-e.upc:
	case <-e.gonec:
		return nil, fmt.Errorf("bootstrap: worker %s is gone before it announced itself: %w", e.id, ebb.ErrUnavailable)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	a := e.announced
	cfg := e.b.cfg.Client
	cfg.URL, cfg.Token, cfg.Pin, cfg.Gone = a.URL, e.token, a.Pin, e.gonec
	c, err := remote.Dial(ctx, cfg)
	switch {
	case err == nil:
		return c, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, ebb.ErrUnavailable):
		return nil, fmt.Errorf("bootstrap: worker %s at %s: %w", e.id, a.URL, err)
	}
	return nil, fmt.Errorf("bootstrap: worker %s at %s: %w: %w", e.id, a.URL, err, ebb.ErrUnavailable)
}
