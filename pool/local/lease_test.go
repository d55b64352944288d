package local

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// advance lets d of fake time pass. Inside a synctest bubble, time.Sleep
// returns as soon as every goroutine of the bubble is blocked, taking no
// real time; then Wait lets whatever that moment set off run to its end.
func advance(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// alive reports whether the alloc is still live, failing the test on any
// error but ErrExpired.
func alive(t *testing.T, a pool.Alloc) bool {
	t.Helper()
	_, err := a.Inspect(context.Background())
	switch {
	case err == nil:
		return true
	case errors.Is(err, ebb.ErrExpired):
		return false
	}
	t.Fatalf("Inspect: %v", err)
	return false
}

func TestExpiryAtDefaultLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		const lease = 30 * time.Second
		p := newPool(t, Config{DefaultLease: lease})
		a := accept(t, p, ebb.Resources{ebb.CPU: 1})
		e := put(t, a, "block", pool.ExecConfig{Func: blockFunc})
		in, err := a.Inspect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := in.Expires.Sub(in.Created), lease; got != want {
			t.Errorf("Expires − Created = %v, want %v", got, want)
		}

		advance(lease - time.Nanosecond)
		if !alive(t, a) {
			t.Fatalf("alloc expired %v before its lease of %v was up", time.Nanosecond, lease)
		}
		advance(time.Nanosecond)
		if alive(t, a) {
			t.Fatalf("alloc alive when its lease of %v was up", lease)
		}
		if _, err := p.Alloc(ctx, a.ID()); !errors.Is(err, ebb.ErrNotExist) {
			t.Errorf("Pool.Alloc of an expired alloc: %v, want ErrNotExist", err)
		}
		if _, err := e.Wait(ctx); !errors.Is(err, ebb.ErrExpired) || !strings.Contains(err.Error(), "lease lapsed") {
			t.Errorf("Wait on an exec of an expired alloc: %v, want ErrExpired saying the lease lapsed", err)
		}
		for name, err := range map[string]error{
			"Free":      a.Free(ctx),
			"Keepalive": second(a.Keepalive(ctx, time.Minute)),
			"Put":       second(a.Put(ctx, id("x"), pool.ExecConfig{Func: blockFunc})),
			"Exec":      second(a.Exec(ctx, e.ID())),
			"Execs":     second(a.Execs(ctx)),
			"Remove":    a.Remove(ctx, e.ID()),
			"Kill":      e.Kill(ctx),
			"Inspect":   second(e.Inspect(ctx)),
			"Logs":      second(e.Logs(ctx, pool.Stdout, false)),
		} {
			if !errors.Is(err, ebb.ErrExpired) {
				t.Errorf("%s after expiry: %v, want ErrExpired", name, err)
			}
		}
		if got, want := offered(t, p), p.capacity; !got.Equal(want) {
			t.Errorf("offer after expiry = %s, want the whole capacity %s", got, want)
		}
	})
}

func second[T any](_ T, err error) error { return err }

func TestKeepalivePostponesExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPool(t, Config{DefaultLease: time.Minute, MaxLease: 5 * time.Minute})
		a := accept(t, p, nil)

		advance(30 * time.Second)
		granted, err := a.Keepalive(ctx, 2*time.Minute)
		if err != nil || granted != 2*time.Minute {
			t.Fatalf("Keepalive(2m) = %v, %v; want 2m", granted, err)
		}
		advance(2*time.Minute - time.Nanosecond) // 1ns short of 30s + 2m
		if !alive(t, a) {
			t.Fatal("alloc expired before its renewed lease was up")
		}
		in, _ := a.Inspect(ctx)
		if got, want := in.LastKeepalive.Sub(in.Created), 30*time.Second; got != want {
			t.Errorf("LastKeepalive − Created = %v, want %v", got, want)
		}
		advance(time.Nanosecond)
		if alive(t, a) {
			t.Fatal("alloc alive after its renewed lease was up")
		}
	})
}

func TestKeepaliveCappedAtMaxLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPool(t, Config{DefaultLease: time.Minute, MaxLease: 3 * time.Minute})
		a := accept(t, p, nil)
		granted, err := a.Keepalive(ctx, time.Hour)
		if err != nil || granted != 3*time.Minute {
			t.Fatalf("Keepalive(1h) with MaxLease 3m = %v, %v; want 3m", granted, err)
		}
		advance(3*time.Minute - time.Nanosecond)
		if !alive(t, a) {
			t.Fatal("alloc expired before its capped lease was up")
		}
		advance(time.Nanosecond)
		if alive(t, a) {
			t.Fatal("alloc alive after its capped lease was up")
		}
		if _, err := a.Keepalive(ctx, time.Minute); !errors.Is(err, ebb.ErrExpired) {
			t.Errorf("Keepalive after expiry: %v, want ErrExpired", err)
		}
	})
}

func TestKeepaliveInvalid(t *testing.T) {
	p := newPool(t, Config{})
	a := accept(t, p, nil)
	for _, lease := range []time.Duration{0, -time.Second} {
		if _, err := a.Keepalive(context.Background(), lease); !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("Keepalive(%v): %v, want ErrInvalid", lease, err)
		}
	}
}

func TestExpiryKillsAndWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		repo := newMemRepo()
		p := newPool(t, Config{DefaultLease: time.Minute, Repository: repo})
		a := accept(t, p, p.capacity)
		released := make(chan struct{})
		killed := make(chan struct{})
		put(t, a, "slow to stop", pool.ExecConfig{Func: func(ctx context.Context, env ebb.FuncEnv) error {
			<-ctx.Done()
			close(killed)
			<-released // stops only when the test says so
			return ctx.Err()
		}})
		// An exec with an output has a directory, which the end removes.
		put(t, a, "with files", pool.ExecConfig{Outputs: []string{"out"}, Func: blockFunc})
		advance(time.Minute)
		select {
		case <-killed:
		default:
			t.Fatal("exec not killed at expiry")
		}
		// The alloc answers ErrExpired at once, but its resources wait
		// for its last exec.
		if alive(t, a) {
			t.Fatal("alloc alive after expiry")
		}
		if got := offered(t, p); got != nil {
			t.Errorf("offer while an expired alloc's exec is still stopping = %s, want none", got)
		}
		if _, err := os.Stat(p.allocDir(a.ID())); err != nil {
			t.Errorf("alloc directory while its exec is stopping: %v, want it there", err)
		}
		close(released)
		synctest.Wait()
		if got := offered(t, p); !got.Equal(p.capacity) {
			t.Errorf("offer after the expired alloc's execs ended = %s, want %s", got, p.capacity)
		}
		if _, err := os.Stat(p.allocDir(a.ID())); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("alloc directory after expiry: %v, want it gone", err)
		}
	})
}

func TestFreeTwice(t *testing.T) {
	ctx := context.Background()
	p := newPool(t, Config{})
	a := accept(t, p, nil)
	if err := a.Free(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Free(ctx); !errors.Is(err, ebb.ErrExpired) {
		t.Errorf("second Free: %v, want ErrExpired", err)
	}
}

func TestFreeWaitsForExecs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPool(t, Config{})
		a := accept(t, p, nil)
		released := make(chan struct{})
		put(t, a, "stubborn", pool.ExecConfig{Func: func(ctx context.Context, _ ebb.FuncEnv) error {
			<-ctx.Done()
			<-released
			return nil
		}})
		freed := make(chan error)
		go func() { freed <- a.Free(ctx) }()
		synctest.Wait()
		select {
		case err := <-freed:
			t.Fatalf("Free returned (%v) before its exec ended", err)
		default:
		}
		// A Free whose ctx ends returns, and the end goes on.
		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if err := a.Free(short); !errors.Is(err, ebb.ErrExpired) {
			t.Errorf("Free of an ending alloc: %v, want ErrExpired", err)
		}
		close(released)
		if err := <-freed; err != nil {
			t.Errorf("Free: %v", err)
		}
	})
}
