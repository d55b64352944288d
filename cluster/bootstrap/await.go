package bootstrap

import (
	"context"
	"time"

	"github.com/ebbflow/ebb/pool/remote"
)

// A Watch is what Await needs of the engine (a batch scheduler, a
// container orchestrator) that runs an expected worker: when it saw the
// worker's job change, and what that means for the launch. Each func is
// called from Await's goroutine only.
type Watch struct {
	// Seen gets a value whenever the engine saw the worker's job change.
	Seen <-chan struct{}
	// Check, called after each value of Seen, reports whether the job
	// has started (PendingTimeout no longer applies, AnnounceTimeout
	// starts), or returns the error that fails the launch. Nil: every
	// value of Seen is ignored.
	Check func() (started bool, err error)

	// PendingTimeout bounds the wait for the job to start; zero: no
	// bound. When it passes, Pending returns the error that fails the
	// launch, or nil when the job turns out to have started after all
	// (then the wait goes on, without a bound).
	PendingTimeout time.Duration
	Pending        func() error

	// AnnounceTimeout, when not zero, bounds the wait for the
	// announcement from the job's start on; when it passes, Silent
	// returns the error that fails the launch.
	AnnounceTimeout time.Duration
	Silent          func() error

	// Gone wraps the error of Wait for a worker that is gone before it
	// was up (its job ended). Nil: the error as it is.
	Gone func(error) error

	// Closed, when closed, ends the wait with the error of Stop (the
	// provider closes meanwhile).
	Closed <-chan struct{}
	Stop   func() error
}

// Await waits, as Wait does, for the worker to announce itself and
// connects to it, while the engine's Watch may fail the launch first:
// the job can never run, it pends past PendingTimeout, it runs for
// AnnounceTimeout without an announcement, or the provider closes. It
// returns the client of the worker, or the error of the Watch's func that
// ended the wait, or ctx's error, unwrapped, when ctx is done first.
//
// Wait runs in a goroutine of Await's own, which has ended by the time
// Await returns: a client that Wait returned too late for the caller is
// closed.
func (e *Expected) Await(ctx context.Context, w Watch) (*remote.Client, error) {
	type waited struct {
		c   *remote.Client
		err error
	}
	wctx, cancel := context.WithCancel(ctx)
	waitc := make(chan waited, 1)
	go func() {
		c, err := e.Wait(wctx)
		waitc <- waited{c, err}
	}()
	got := false // waitc was read
	defer func() {
		cancel()
		if !got {
			if r := <-waitc; r.c != nil {
				r.c.Close()
			}
		}
	}()

	var pendingc, announcec <-chan time.Time
	if w.PendingTimeout > 0 {
		t := time.NewTimer(w.PendingTimeout)
		defer t.Stop()
		pendingc = t.C
	}
	var announce *time.Timer
	defer func() {
		if announce != nil {
			announce.Stop()
		}
	}()
	started := func() {
		pendingc = nil
		if w.AnnounceTimeout > 0 && announce == nil {
			announce = time.NewTimer(w.AnnounceTimeout)
			announcec = announce.C
		}
	}
	for {
		select {
		case r := <-waitc:
			got = true
			if r.err != nil && w.Gone != nil && ctx.Err() == nil {
				return nil, w.Gone(r.err)
			}
			return r.c, r.err
		case <-w.Seen:
			if w.Check == nil {
				continue
			}
			ok, err := w.Check()
			if err != nil {
				return nil, err
			}
			if ok {
				started()
			}
		case <-pendingc:
			pendingc = nil
			if err := w.Pending(); err != nil {
				return nil, err
			}
			started()
		case <-announcec:
			return nil, w.Silent()
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-w.Closed:
			return nil, w.Stop()
		}
	}
}
