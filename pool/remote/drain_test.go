package remote

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

// TestDrain checks a draining server: it offers nothing, refuses Accept
// and Put with ErrUnavailable, and serves the allocs and execs it holds.
func TestDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		s := newServer(t, ServerConfig{Pool: memPool(t)})
		c := dialInProcess(t, s)
		a := acceptOne(t, ctx, c)
		offers, err := c.Offers(ctx)
		if err != nil || len(offers) == 0 {
			t.Fatal(offers, err)
		}
		e, err := a.Put(ctx, digest.FromString("running"), pool.ExecConfig{Argv: []string{"sleep", "10"}})
		if err != nil {
			t.Fatal(err)
		}
		s.Drain()
		if !s.Draining() {
			t.Error("Draining() = false after Drain")
		}
		if got, err := c.Offers(ctx); err != nil || len(got) != 0 {
			t.Errorf("Offers while draining = %d offers, %v; want none", len(got), err)
		}
		if _, err := offers[0].Accept(ctx, pool.AllocMeta{Want: ebb.Requirements{Min: ebb.Resources{"cpu": 1}}}); !errors.Is(err, ebb.ErrUnavailable) {
			t.Errorf("Accept while draining: %v, want ErrUnavailable", err)
		}
		if _, err := a.Put(ctx, digest.FromString("new"), pool.ExecConfig{Argv: []string{"true"}}); !errors.Is(err, ebb.ErrUnavailable) {
			t.Errorf("Put while draining: %v, want ErrUnavailable", err)
		}
		if _, err := a.Keepalive(ctx, time.Minute); err != nil {
			t.Errorf("Keepalive while draining: %v", err)
		}
		if r, err := e.Wait(ctx); err != nil || !r.OK() {
			t.Errorf("Wait while draining = %+v, %v; want the exec's success", r, err)
		}
		if err := a.Free(ctx); err != nil {
			t.Errorf("Free while draining: %v", err)
		}
	})
}

// TestWaitIdle checks when a server counts as idle: no alloc has lived
// and no Accept or Keepalive succeeded for the timeout.
func TestWaitIdle(t *testing.T) {
	const timeout = time.Minute
	t.Run("never used", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := newServer(t, ServerConfig{Pool: memPool(t)})
			start := time.Now()
			if err := s.WaitIdle(t.Context(), timeout); err != nil || time.Since(start) != timeout {
				t.Errorf("WaitIdle = %v after %v, want nil after %v", err, time.Since(start), timeout)
			}
		})
	})
	t.Run("alloc held", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := t.Context()
			s := newServer(t, ServerConfig{Pool: memPool(t)})
			c := dialInProcess(t, s)
			start := time.Now()
			done := make(chan time.Duration, 1)
			go func() {
				if err := s.WaitIdle(ctx, timeout); err != nil {
					t.Errorf("WaitIdle: %v", err)
				}
				done <- time.Since(start)
			}()
			time.Sleep(30 * time.Second)
			a := acceptOne(t, ctx, c) // renews at 30s; its lease lapses at 90s
			time.Sleep(50 * time.Second)
			if _, err := a.Keepalive(ctx, 2*time.Minute); err != nil { // at 80s, to 200s
				t.Fatal(err)
			}
			got := <-done
			// Last seen busy at the last look before 200s, at most an
			// eighth of the timeout before it; idle a timeout later.
			if got < 200*time.Second+timeout-timeout/8 || got > 200*time.Second+timeout {
				t.Errorf("WaitIdle returned after %v, want about %v", got, 200*time.Second+timeout)
			}
		})
	})
	t.Run("cancelled", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := newServer(t, ServerConfig{Pool: memPool(t)})
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			if err := s.WaitIdle(ctx, timeout); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("WaitIdle with a context done first: %v", err)
			}
			if err := s.WaitIdle(ctx, 0); !errors.Is(err, ebb.ErrInvalid) {
				t.Errorf("WaitIdle(0): %v, want ErrInvalid", err)
			}
		})
	})
}
