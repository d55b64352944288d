package pool_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
)

func TestKeepaliveKeepsAllocAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pooltest.NewPool(pooltest.PoolConfig{Lease: time.Minute})
		defer p.Close()
		a, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: cpus(1)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		if err := pool.Keepalive(ctx, a, pool.KeepaliveConfig{Lease: time.Minute}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Keepalive = %v, want the ctx's error", err)
		}
		if _, err := a.Inspect(t.Context()); err != nil {
			t.Fatalf("alloc gone after an hour of keepalives: %v", err)
		}
		// Renewed at half the lease: about 120 times in the hour.
		if n := p.Stats().Calls[pooltest.OpKeepalive]; n < 115 || n > 125 {
			t.Errorf("%d renewals in an hour of 1-minute leases, want about 120", n)
		}
		// Without keepalives it lapses.
		time.Sleep(61 * time.Second)
		if _, err := a.Inspect(t.Context()); !errors.Is(err, ebb.ErrExpired) {
			t.Errorf("alloc after its lease: %v, want ErrExpired", err)
		}
	})
}

func TestKeepaliveReportsLoss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pooltest.NewPool(pooltest.PoolConfig{})
		defer p.Close()
		a, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: cpus(1)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error)
		go func() { errc <- pool.Keepalive(t.Context(), a, pool.KeepaliveConfig{}) }()
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		killed := time.Now()
		p.Kill(a.ID())
		err = <-errc
		if !errors.Is(err, ebb.ErrExpired) {
			t.Errorf("Keepalive of a killed alloc = %v, want ErrExpired", err)
		}
		if d := time.Since(killed); d > 30*time.Second {
			t.Errorf("loss noticed after %v, want within one renewal (30s)", d)
		}
	})
}

// Transient failures are retried while the lease lasts; once it would have
// run out, the alloc is reported lost.
func TestKeepaliveTransientErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pooltest.NewPool(pooltest.PoolConfig{})
		defer p.Close()
		a, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: cpus(1)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		blip := fmt.Errorf("connection reset: %w", ebb.ErrUnavailable)
		// A few failures are absorbed.
		for range 3 {
			p.FailNext(pooltest.OpKeepalive, blip)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
		defer cancel()
		if err := pool.Keepalive(ctx, a, pool.KeepaliveConfig{}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Keepalive through 3 blips = %v, want it to go on", err)
		}
		// Failures for longer than a lease are a loss.
		for range 100 {
			p.FailNext(pooltest.OpKeepalive, blip)
		}
		start := time.Now()
		err = pool.Keepalive(t.Context(), a, pool.KeepaliveConfig{Lease: time.Minute})
		if !errors.Is(err, ebb.ErrExpired) || !errors.Is(err, ebb.ErrUnavailable) {
			t.Errorf("Keepalive through a minute of failures = %v, want ErrExpired wrapping the failure", err)
		}
		if d := time.Since(start); d > time.Minute {
			t.Errorf("gave up after %v, want before the lease ran out", d)
		}
	})
}

// A pool that stops answering (a frozen worker) is noticed when the lease
// runs out, not when the call would time out.
func TestKeepaliveNoticesHungRenewal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pooltest.NewPool(pooltest.PoolConfig{})
		defer p.Close()
		a, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: cpus(1)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		gate := p.Hold(pooltest.OpKeepalive)
		start := time.Now()
		err = pool.Keepalive(t.Context(), a, pool.KeepaliveConfig{Lease: time.Minute})
		if !errors.Is(err, ebb.ErrExpired) {
			t.Errorf("Keepalive of an unanswering pool = %v, want ErrExpired", err)
		}
		if d := time.Since(start); d != time.Minute {
			t.Errorf("loss reported after %v, want when the lease ran out (1m)", d)
		}
		gate.Open()
	})
}
