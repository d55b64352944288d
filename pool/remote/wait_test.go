package remote

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/proctest"
	"github.com/ebbflow/ebb/pool"
)

// acceptOne accepts 1 cpu from c's first offer.
func acceptOne(t *testing.T, ctx context.Context, c *Client) pool.Alloc {
	t.Helper()
	offers, err := c.Offers(ctx)
	if err != nil || len(offers) == 0 {
		t.Fatalf("Offers = %d, %v", len(offers), err)
	}
	a, err := offers[0].Accept(ctx, pool.AllocMeta{Want: ebb.Requirements{Min: ebb.Resources{"cpu": 1}}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// countWaits wraps h, counting the wait polls, single and batched.
func countWaits(h http.Handler, n *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/wait") || strings.HasSuffix(r.URL.Path, "/execs:wait") {
			n.Add(1)
		}
		h.ServeHTTP(w, r)
	})
}

// TestWaitLongPoll checks that Wait polls in chunks of WaitPoll, bounded
// by the server's MaxWait, and returns the result as soon as the exec
// ends; batched or not.
func TestWaitLongPoll(t *testing.T) {
	for _, c := range []struct {
		name          string
		poll, maxWait time.Duration
		noBatch       bool
		polls         int64
	}{
		{"client bound", 20 * time.Second, time.Minute, false, 5},
		{"server bound", time.Minute, 10 * time.Second, false, 10},
		{"client bound, unbatched", 20 * time.Second, time.Minute, true, 5},
		{"server bound, unbatched", time.Minute, 10 * time.Second, true, 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := t.Context()
				var polls atomic.Int64
				s := newServer(t, ServerConfig{Pool: memPool(t), MaxWait: c.maxWait})
				cl := dial(t, ClientConfig{URL: "http://in-process", Token: testToken, Transport: InProcess(countWaits(s, &polls)), WaitPoll: c.poll, NoBatch: c.noBatch})
				a := acceptOne(t, ctx, cl)
				if _, err := a.Keepalive(ctx, time.Hour); err != nil {
					t.Fatal(err)
				}
				e, err := a.Put(ctx, digest.FromString("sleep 95"), pool.ExecConfig{Argv: []string{"sleep", "95"}})
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				r, err := e.Wait(ctx)
				if err != nil || !r.OK() {
					t.Fatalf("Wait = %+v, %v", r, err)
				}
				if d := time.Since(start); d != 95*time.Second {
					t.Errorf("Wait returned after %v, want 95s, when the exec ended", d)
				}
				if got := polls.Load(); got != c.polls {
					t.Errorf("Wait made %d polls, want %d", got, c.polls)
				}
			})
		})
	}
}

// TestServeShutdown checks that Serve's shutdown ends the long polls in
// flight at once (they answer "not done") instead of waiting MaxWait,
// and that the client's Wait then fails with ErrUnavailable within its
// Timeout, the server being gone.
func TestServeShutdown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var polls atomic.Int64
	s := newServer(t, ServerConfig{Pool: memPool(t), MaxWait: time.Hour, ShutdownTimeout: time.Hour})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- s.serveHandler(sctx, ln, nil, countWaits(s, &polls)) }()
	c := dial(t, ClientConfig{URL: "http://" + ln.Addr().String(), Token: testToken, Timeout: 500 * time.Millisecond, WaitPoll: time.Hour})
	a := acceptOne(t, ctx, c)
	e, err := a.Put(ctx, digest.FromString("sleep"), pool.ExecConfig{Argv: []string{"sleep", "1000"}})
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		_, err := e.Wait(ctx)
		waited <- err
	}()
	if !proctest.Eventually(10*time.Second, func() bool { return polls.Load() > 0 }) {
		t.Fatal("no wait poll reached the server")
	}
	start := time.Now()
	stop()
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Serve took %v to shut down with a long poll in flight, want it at once", d)
	}
	select {
	case err := <-waited:
		if !errors.Is(err, ebb.ErrUnavailable) {
			t.Errorf("Wait once the server shut down: %v, want ErrUnavailable", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("Wait did not return within 10s of the server's shutdown")
	}
}
