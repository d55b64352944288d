package pooltest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
	"github.com/opencontainers/go-digest"
)

// newPool makes a memory pool that is closed when the test ends.
func newPool(t *testing.T, cfg pooltest.PoolConfig) *pooltest.Pool {
	t.Helper()
	p := pooltest.NewPool(cfg)
	t.Cleanup(func() { p.Close() })
	return p
}

// acceptFirst accepts min from p's first offer.
func acceptFirst(t *testing.T, p pool.Pool, min ebb.Resources) pool.Alloc {
	t.Helper()
	offers, err := p.Offers(t.Context())
	if err != nil || len(offers) == 0 {
		t.Fatalf("Offers = %v, %v; want at least one", offers, err)
	}
	a, err := offers[0].Accept(t.Context(), pool.AllocMeta{Want: ebb.Requirements{Min: min}})
	if err != nil {
		t.Fatalf("Accept(%v): %v", min, err)
	}
	return a
}

func blockFunc(ctx context.Context, _ ebb.FuncEnv) error {
	<-ctx.Done()
	return ctx.Err()
}

var one = ebb.Resources{ebb.CPU: 1}

func TestKill(t *testing.T) {
	ctx := t.Context()
	p := newPool(t, pooltest.PoolConfig{})
	a := acceptFirst(t, p, one)
	e, err := a.Put(ctx, digest.FromString("block"), pool.ExecConfig{Func: blockFunc, Resources: one})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(a.ID()); err != nil {
		t.Fatalf("Kill(%q): %v", a.ID(), err)
	}
	// Kill returns once the execs are gone, and they went with the alloc.
	if _, err := e.Wait(ctx); !errors.Is(err, ebb.ErrExpired) {
		t.Errorf("Wait after Kill: %v, want ErrExpired", err)
	}
	if _, err := a.Keepalive(ctx, time.Minute); !errors.Is(err, ebb.ErrExpired) {
		t.Errorf("Keepalive after Kill: %v, want ErrExpired", err)
	}
	if _, err := p.Alloc(ctx, a.ID()); !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("Pool.Alloc after Kill: %v, want ErrNotExist", err)
	}
	if err := p.Kill(a.ID()); !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("second Kill(%q): %v, want ErrNotExist", a.ID(), err)
	}
	offers, err := p.Offers(ctx)
	if err != nil || len(offers) != 1 || !offers[0].Available().Equal(ebb.Resources{ebb.CPU: 4, ebb.Mem: 8 << 30}) {
		t.Errorf("Offers after Kill = %v, %v; want the whole node back", offers, err)
	}
	if got := p.Stats(); got.Kills != 1 || got.Allocs != 1 || got.Frees != 0 {
		t.Errorf("Stats = %+v, want 1 alloc, 1 kill, 0 frees", got)
	}
}

func TestFailNext(t *testing.T) {
	ctx := t.Context()
	p := newPool(t, pooltest.PoolConfig{})
	p.FailNext(pooltest.OpAccept, ebb.ErrUnavailable)
	p.FailNext(pooltest.OpAccept, ebb.ErrOfferGone)
	offers, err := p.Offers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	meta := pool.AllocMeta{Want: ebb.Requirements{Min: one}}
	for i, want := range []error{ebb.ErrUnavailable, ebb.ErrOfferGone, nil} {
		a, err := offers[0].Accept(ctx, meta)
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("Accept %d: %v, want %v", i, err, want)
		}
		if err == nil && !a.Resources().Equal(one) {
			t.Errorf("Accept %d: alloc holds %v, want %v", i, a.Resources(), one)
		}
	}
	if got := p.Stats(); got.Calls[pooltest.OpAccept] != 3 || got.Allocs != 1 {
		t.Errorf("Stats = %+v, want 3 accept calls and 1 alloc", got)
	}
}

// TestFailNextKeepalive fails a renewal without renewing: the alloc still
// lapses on its first lease.
func TestFailNextKeepalive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p := newPool(t, pooltest.PoolConfig{Lease: time.Minute})
		a := acceptFirst(t, p, one)
		time.Sleep(30 * time.Second) // fake time, in the bubble
		p.FailNext(pooltest.OpKeepalive, ebb.ErrUnavailable)
		if _, err := a.Keepalive(ctx, time.Minute); !errors.Is(err, ebb.ErrUnavailable) {
			t.Errorf("Keepalive: %v, want ErrUnavailable", err)
		}
		time.Sleep(31 * time.Second) // fake time, in the bubble
		synctest.Wait()
		if _, err := a.Keepalive(ctx, time.Minute); !errors.Is(err, ebb.ErrExpired) {
			t.Errorf("Keepalive after the first lease: %v, want ErrExpired", err)
		}
		if got := p.Stats(); got.Expiries != 1 {
			t.Errorf("Stats().Expiries = %d, want 1", got.Expiries)
		}
	})
}

func TestSetDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, pooltest.PoolConfig{})
		p.SetDelay(pooltest.OpOffers, 5*time.Second)
		start := time.Now()
		if _, err := p.Offers(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 5*time.Second {
			t.Errorf("Offers with a 5s delay took %v", got)
		}

		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if _, err := p.Offers(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Offers with a 5s delay and a 1s deadline: %v, want DeadlineExceeded", err)
		}

		p.SetDelay(pooltest.OpOffers, 0)
		start = time.Now()
		if _, err := p.Offers(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 0 {
			t.Errorf("Offers after the delay was removed took %v", got)
		}
	})
}

func TestHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p := newPool(t, pooltest.PoolConfig{})
		a := acceptFirst(t, p, one)
		gate := p.Hold(pooltest.OpPut)
		type put struct {
			e   pool.Exec
			err error
		}
		putc := make(chan put, 1)
		go func() {
			e, err := a.Put(ctx, digest.FromString("held"), pool.ExecConfig{Func: func(context.Context, ebb.FuncEnv) error { return nil }})
			putc <- put{e, err}
		}()
		if err := gate.Arrived(ctx, 1); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		select {
		case got := <-putc:
			t.Fatalf("Put returned %v while held", got.err)
		default:
		}
		gate.Open()
		if got := <-putc; got.err != nil {
			t.Fatalf("Put after Open: %v", got.err)
		}

		// A held call gives up with its context.
		gate = p.Hold(pooltest.OpFree)
		ctx2, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() { errc <- a.Free(ctx2) }()
		gate.Arrived(ctx, 1)
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("held Free after cancel: %v, want context.Canceled", err)
		}
		if _, err := a.Inspect(ctx); err != nil {
			t.Errorf("Inspect after a cancelled Free: %v, want the alloc alive", err)
		}
	})
}

func TestCloseReleasesGates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pooltest.NewPool(pooltest.PoolConfig{})
		p.Hold(pooltest.OpOffers)
		errc := make(chan error, 1)
		go func() {
			_, err := p.Offers(t.Context())
			errc <- err
		}()
		synctest.Wait()
		p.Close()
		if err := <-errc; !errors.Is(err, ebb.ErrClosed) {
			t.Errorf("Offers held across Close: %v, want ErrClosed", err)
		}
	})
}

func TestClose(t *testing.T) {
	ctx := t.Context()
	p := pooltest.NewPool(pooltest.PoolConfig{})
	a := acceptFirst(t, p, one)
	e, err := a.Put(ctx, digest.FromString("block"), pool.ExecConfig{Func: blockFunc})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := e.Wait(ctx); !errors.Is(err, ebb.ErrExpired) {
		t.Errorf("Wait after Close: %v, want ErrExpired", err)
	}
	if _, err := p.Offers(ctx); !errors.Is(err, ebb.ErrClosed) {
		t.Errorf("Offers after Close: %v, want ErrClosed", err)
	}
	if _, err := a.Inspect(ctx); !errors.Is(err, ebb.ErrExpired) || !errors.Is(err, ebb.ErrClosed) {
		t.Errorf("Inspect of an alloc after Close: %v, want ErrExpired and ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestKeepaliveLeases(t *testing.T) {
	ctx := t.Context()
	p := newPool(t, pooltest.PoolConfig{Lease: time.Minute, MaxLease: time.Hour})
	a := acceptFirst(t, p, one)
	for _, c := range []struct {
		ask, want time.Duration
		err       error
	}{
		{time.Minute, time.Minute, nil},
		{10 * time.Hour, time.Hour, nil},
		{0, 0, ebb.ErrInvalid},
		{-time.Second, 0, ebb.ErrInvalid},
	} {
		got, err := a.Keepalive(ctx, c.ask)
		if got != c.want || !errors.Is(err, c.err) {
			t.Errorf("Keepalive(%v) = %v, %v; want %v, %v", c.ask, got, err, c.want, c.err)
		}
	}
}

// TestOffersPerNode checks that an offer goes stale only when its own node
// changes.
func TestOffersPerNode(t *testing.T) {
	ctx := t.Context()
	p := newPool(t, pooltest.PoolConfig{Nodes: []ebb.Resources{{ebb.CPU: 2}, {ebb.CPU: 4}}})
	offers, err := p.Offers(ctx)
	if err != nil || len(offers) != 2 {
		t.Fatalf("Offers = %v, %v; want two", offers, err)
	}
	meta := pool.AllocMeta{Want: ebb.Requirements{Min: one}}
	if _, err := offers[0].Accept(ctx, meta); err != nil {
		t.Fatal(err)
	}
	if _, err := offers[1].Accept(ctx, meta); err != nil {
		t.Errorf("Accept of node 1's offer after node 0 changed: %v, want it still good", err)
	}
	if _, err := offers[0].Accept(ctx, meta); !errors.Is(err, ebb.ErrOfferGone) {
		t.Errorf("second Accept of node 0's offer: %v, want ErrOfferGone", err)
	}
	// A node with nothing left makes no offer.
	acceptFirst(t, p, one)
	offers, _ = p.Offers(ctx)
	if len(offers) != 1 || !offers[0].Available().Equal(ebb.Resources{ebb.CPU: 3}) {
		t.Errorf("Offers with node 0 full = %v, want node 1's 3 cpu", offers)
	}
}

func TestExecs(t *testing.T) {
	ctx := t.Context()
	p := newPool(t, pooltest.PoolConfig{})
	a := acceptFirst(t, p, one)
	for _, c := range []struct {
		name string
		cfg  pool.ExecConfig
		err  error  // from Put
		want string // in Result.Error
	}{
		{"argv without Run", pool.ExecConfig{Argv: []string{"true"}}, ebb.ErrInvalid, ""},
		{"func with outputs", pool.ExecConfig{Func: func(context.Context, ebb.FuncEnv) error { return nil }, Outputs: []string{"out"}}, nil, `output "out" missing`},
		{"func panics", pool.ExecConfig{Func: func(context.Context, ebb.FuncEnv) error { panic("oops") }}, nil, "panic: oops"},
		{"func fails", pool.ExecConfig{Func: func(context.Context, ebb.FuncEnv) error { return errors.New("no luck") }}, nil, "no luck"},
	} {
		e, err := a.Put(ctx, digest.FromString(c.name), c.cfg)
		if !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
			t.Errorf("%s: Put: %v, want %v", c.name, err, c.err)
			continue
		}
		if err != nil {
			continue
		}
		r, err := e.Wait(ctx)
		if err != nil || r.OK() || r.ExitCode != 1 || !strings.Contains(r.Error, c.want) {
			t.Errorf("%s: Wait = %+v, %v; want exit 1 and an error with %q", c.name, r, err, c.want)
		}
	}
	if got := p.Stats().Execs; got != 3 {
		t.Errorf("Stats().Execs = %d, want 3", got)
	}
}

func TestLogs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p := newPool(t, pooltest.PoolConfig{})
		a := acceptFirst(t, p, one)
		next := make(chan struct{})
		e, err := a.Put(ctx, digest.FromString("logs"), pool.ExecConfig{Func: func(ctx context.Context, env ebb.FuncEnv) error {
			fmt.Fprint(env.Stdout, "one ")
			fmt.Fprint(env.Stderr, "oops")
			<-next
			fmt.Fprint(env.Stdout, "two")
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		follow, err := e.Logs(ctx, pool.Stdout, true)
		if err != nil {
			t.Fatal(err)
		}
		defer follow.Close()
		synctest.Wait()
		now, err := e.Logs(ctx, pool.Stdout, false)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(now); string(got) != "one " || err != nil {
			t.Errorf("Logs(stdout) while running = %q, %v; want %q", got, err, "one ")
		}
		close(next)
		if got, err := io.ReadAll(follow); string(got) != "one two" || err != nil {
			t.Errorf("Logs(stdout, follow) = %q, %v; want %q", got, err, "one two")
		}
		r, err := e.Wait(ctx)
		if err != nil || r.Stdout != "one two" || r.Stderr != "oops" {
			t.Errorf("Wait = %+v, %v; want stdout %q and stderr %q", r, err, "one two", "oops")
		}
		if _, err := e.Logs(ctx, pool.Stream(7), false); !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("Logs of stream 7: %v, want ErrInvalid", err)
		}
	})
}

func TestBuiltins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p := newPool(t, pooltest.PoolConfig{Run: pooltest.Builtins})
		a := acceptFirst(t, p, one)
		for _, c := range []struct {
			argv   []string
			exit   int
			stdout string
			took   time.Duration
		}{
			{[]string{"true"}, 0, "", 0},
			{[]string{"/bin/false"}, 1, "", 0},
			{[]string{"exit", "3"}, 3, "", 0},
			{[]string{"exit", "0"}, 0, "", 0},
			{[]string{"exit", "x"}, 2, "", 0},
			{[]string{"echo", "hello", "world"}, 0, "hello world\n", 0},
			{[]string{"sleep", "1.5"}, 0, "", 1500 * time.Millisecond},
			{[]string{"sleep"}, 2, "", 0},
			{[]string{"rm", "-rf", "/"}, 127, "", 0},
		} {
			start := time.Now()
			e, err := a.Put(ctx, pool.ExecConfig{Argv: c.argv}.Digest(), pool.ExecConfig{Argv: c.argv})
			if err != nil {
				t.Fatalf("Put(%q): %v", c.argv, err)
			}
			r, err := e.Wait(ctx)
			if err != nil || r.ExitCode != c.exit || r.Stdout != c.stdout || time.Since(start) != c.took {
				t.Errorf("%q: Wait = exit %d, stdout %q, error %q, %v after %v; want exit %d, stdout %q after %v",
					c.argv, r.ExitCode, r.Stdout, r.Error, err, time.Since(start), c.exit, c.stdout, c.took)
			}
		}
	})
}

func TestNewPoolPanics(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  pooltest.PoolConfig
		want string
	}{
		{"bad node", pooltest.PoolConfig{Nodes: []ebb.Resources{{ebb.CPU: -1}}}, "Nodes[0]"},
		{"negative lease", pooltest.PoolConfig{Lease: -time.Second}, "Lease"},
		{"max below lease", pooltest.PoolConfig{Lease: time.Hour, MaxLease: time.Minute}, "MaxLease"},
	} {
		func() {
			defer func() {
				if v := recover(); v == nil || !strings.Contains(fmt.Sprint(v), c.want) {
					t.Errorf("%s: NewPool(%+v) panicked with %v, want a panic naming %s", c.name, c.cfg, v, c.want)
				}
			}()
			pooltest.NewPool(c.cfg)
		}()
	}
}
