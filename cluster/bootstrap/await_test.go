package bootstrap_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
)

// TestAwaitUp: a worker that announces itself gives Await its client.
func TestAwaitUp(t *testing.T) {
	b := newBootstrap(t, bootstrap.Config{})
	e, err := b.Expect("w1", small)
	if err != nil {
		t.Fatal(err)
	}
	start(t, e)
	seen := make(chan struct{}, 1)
	seen <- struct{}{}
	c, err := e.Await(t.Context(), bootstrap.Watch{
		Seen:            seen,
		Check:           func() (bool, error) { return true, nil },
		PendingTimeout:  time.Minute,
		Pending:         func() error { return errors.New("pending") },
		AnnounceTimeout: time.Minute,
		Silent:          func() error { return errors.New("silent") },
	})
	if err != nil {
		t.Fatalf("Await: %v", err)
	}
	defer c.Close()
	if _, err := c.Capacity(t.Context()); err != nil {
		t.Errorf("the worker's client does not answer: %v", err)
	}
}

// TestAwaitEngineEnds: each way the engine's Watch ends a launch before
// the worker announced itself returns that way's error.
func TestAwaitEngineEnds(t *testing.T) {
	b := newBootstrap(t, bootstrap.Config{})
	errNever := errors.New("can never run")
	errPending := errors.New("still pending")
	errSilent := errors.New("silent")
	errStop := errors.New("closed")
	for _, tc := range []struct {
		name string
		w    func(seen chan struct{}, closed chan struct{}) bootstrap.Watch
		want error
	}{
		{"check fails", func(seen, _ chan struct{}) bootstrap.Watch {
			seen <- struct{}{}
			return bootstrap.Watch{Seen: seen, Check: func() (bool, error) { return false, errNever }}
		}, errNever},
		{"pending", func(seen, _ chan struct{}) bootstrap.Watch {
			return bootstrap.Watch{Seen: seen, PendingTimeout: time.Millisecond, Pending: func() error { return errPending }}
		}, errPending},
		{"started, then silent", func(seen, _ chan struct{}) bootstrap.Watch {
			seen <- struct{}{}
			return bootstrap.Watch{Seen: seen, Check: func() (bool, error) { return true, nil },
				PendingTimeout: time.Hour, Pending: func() error { return errPending },
				AnnounceTimeout: time.Millisecond, Silent: func() error { return errSilent }}
		}, errSilent},
		{"started late, then silent", func(seen, _ chan struct{}) bootstrap.Watch {
			return bootstrap.Watch{Seen: seen, PendingTimeout: time.Millisecond, Pending: func() error { return nil },
				AnnounceTimeout: time.Millisecond, Silent: func() error { return errSilent }}
		}, errSilent},
		{"closed", func(seen, closed chan struct{}) bootstrap.Watch {
			close(closed)
			return bootstrap.Watch{Seen: seen, Closed: closed, Stop: func() error { return errStop }}
		}, errStop},
	} {
		id := cluster.WorkerID(strings.ReplaceAll(tc.name, " ", "-"))
		t.Run(tc.name, func(t *testing.T) {
			e, err := b.Expect(id, small)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Forget(e.ID())
			// A way that does not end the wait fails here, not by hanging.
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			c, err := e.Await(ctx, tc.w(make(chan struct{}, 1), make(chan struct{})))
			if c != nil || !errors.Is(err, tc.want) {
				t.Errorf("Await = %v, %v; want %v", c, err, tc.want)
			}
		})
	}
}

// TestAwaitGone: a worker lost before it announced itself ends Await
// with Wait's error, wrapped by Gone; ctx done ends it with ctx's error.
func TestAwaitGone(t *testing.T) {
	b := newBootstrap(t, bootstrap.Config{})
	e, err := b.Expect("w1", small)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan struct{}, 1)
	seen <- struct{}{}
	_, err = e.Await(t.Context(), bootstrap.Watch{Seen: seen,
		Check: func() (bool, error) { e.Lost(); return false, nil },
		Gone:  func(err error) error { return errors.Join(errors.New("job ended"), err) },
	})
	if !errors.Is(err, ebb.ErrUnavailable) || err.Error()[:9] != "job ended" {
		t.Errorf("Await of a lost worker = %v; want Gone's wrapping of ErrUnavailable", err)
	}

	e2, err := b.Expect("w2", small)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := e2.Await(ctx, bootstrap.Watch{Gone: func(err error) error { return errors.New("not this") }}); err != context.Canceled {
		t.Errorf("Await with ctx done = %v; want context.Canceled, unwrapped", err)
	}
}
