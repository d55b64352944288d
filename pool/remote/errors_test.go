package remote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
	"github.com/opencontainers/go-digest"
)

// TestErrorKinds checks that every ebb kind crosses the wire both ways:
// the server encodes it, the client decodes it, and errors.Is holds on
// the client for every kind the server's error wrapped.
func TestErrorKinds(t *testing.T) {
	for _, k := range wireKinds() {
		for _, joined := range []bool{false, true} {
			err := fmt.Errorf("pool says: %w", k.err)
			if joined {
				err = fmt.Errorf("%w (%w)", err, ebb.ErrClosed)
			}
			status, w := encodeError(err)
			got := decodeError("op", status, w)
			if !errors.Is(got, k.err) || (joined && !errors.Is(got, ebb.ErrClosed)) {
				t.Errorf("%v crossed as %d %+v, decoded %v: lost a kind", err, status, w, got)
			}
			if !strings.Contains(got.Error(), err.Error()) {
				t.Errorf("decoded %q, want the server's message %q in it", got, err)
			}
			if got.retry {
				t.Errorf("the server's %v decoded as retryable; the server's answers are final", k.err)
			}
		}
	}
	status, w := encodeError(context.DeadlineExceeded)
	if got := decodeError("op", status, w); status != http.StatusServiceUnavailable || !errors.Is(got, ebb.ErrUnavailable) {
		t.Errorf("a context error crossed as %d, %v; want 503 unavailable", status, got)
	}
	if status, _ := encodeError(errors.New("no kind")); status != http.StatusInternalServerError {
		t.Errorf("an error of no kind crossed as %d, want 500", status)
	}
	for status, want := range map[int]error{502: ebb.ErrUnavailable, 503: ebb.ErrUnavailable, 504: ebb.ErrUnavailable, 401: ErrAuth, 403: ErrAuth, 404: ebb.ErrInvalid, 405: ebb.ErrInvalid} {
		got := decodeError("op", status, wireError{Message: "from a proxy"})
		if !errors.Is(got, want) || got.retry != (status >= 502) {
			t.Errorf("a bare %d decoded as %v (retry %v), want %v", status, got, got.retry, want)
		}
	}
}

// TestErrorKindsEndToEnd fails pool calls on the server with each kind
// and checks what the client's calls return.
func TestErrorKindsEndToEnd(t *testing.T) {
	ctx := t.Context()
	mem := memPool(t)
	c := dialInProcess(t, newServer(t, ServerConfig{Pool: mem}))
	for _, k := range wireKinds() {
		mem.FailNext(pooltest.OpOffers, k.err)
		if _, err := c.Offers(ctx); !errors.Is(err, k.err) {
			t.Errorf("Offers failed on the server with %v: client got %v", k.err, err)
		}
	}
	// Calls on an alloc the server no longer knows are ErrExpired; the
	// pool's own lookup of it is ErrNotExist.
	offers, _ := c.Offers(ctx)
	a, err := offers[0].Accept(ctx, pool.AllocMeta{Want: ebb.Requirements{Min: ebb.Resources{"cpu": 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := mem.Kill(a.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Alloc(ctx, a.ID()); !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("Pool.Alloc of a killed alloc: %v, want ErrNotExist", err)
	}
	if _, err := a.Inspect(ctx); !errors.Is(err, ebb.ErrExpired) {
		t.Errorf("Inspect of a killed alloc: %v, want ErrExpired", err)
	}
	if _, err := a.Exec(ctx, digest.FromString("x")); !errors.Is(err, ebb.ErrExpired) {
		t.Errorf("Exec on a killed alloc: %v, want ErrExpired", err)
	}
}

// flaky wraps a handler: the first n requests for which fail returns true
// are answered 503 without the server seeing them, or, with after set,
// served and then answered 502 as if the answer was lost on the way.
type flaky struct {
	h     http.Handler
	fail  func(r *http.Request) bool
	after bool

	mu   sync.Mutex
	n    int // failures left
	seen int // requests that reached the handler
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	drop := f.n > 0 && f.fail(r)
	if drop {
		f.n--
	}
	f.mu.Unlock()
	if !drop {
		f.count()
		f.h.ServeHTTP(w, r)
		return
	}
	if f.after {
		f.count()
		f.h.ServeHTTP(httptest.NewRecorder(), r)
	}
	http.Error(w, "bad gateway", http.StatusBadGateway)
}

func (f *flaky) count() {
	f.mu.Lock()
	f.seen++
	f.mu.Unlock()
}

func isPath(suffix string) func(*http.Request) bool {
	return func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, suffix) }
}

// TestRetry checks that a call that meets transient failures is retried
// until it succeeds, and that answers lost after the server acted do not
// double the action: a retried Accept gets the alloc the first attempt
// took, and a retried Free or Remove that finds its target gone succeeds.
func TestRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		mem := memPool(t)
		f := &flaky{h: newServer(t, ServerConfig{Pool: mem}), fail: isPath("/offers"), n: 3}
		c := dial(t, ClientConfig{URL: "http://in-process", Token: testToken, Transport: InProcess(f)})
		if _, err := c.Offers(ctx); err != nil {
			t.Errorf("Offers after 3 gateway errors: %v, want success on the 4th try", err)
		}

		f.after, f.fail, f.n = true, isPath("/accept"), 2
		offers, err := c.Offers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		a, err := offers[0].Accept(ctx, pool.AllocMeta{Want: ebb.Requirements{Min: ebb.Resources{"cpu": 1}}})
		if err != nil {
			t.Fatalf("Accept whose answers were lost twice: %v", err)
		}
		if got := mem.Stats(); got.Allocs != 1 || got.Calls[pooltest.OpAccept] != 1 {
			t.Errorf("after an Accept retried twice, the pool made %d allocs in %d Accepts; want 1 in 1", got.Allocs, got.Calls[pooltest.OpAccept])
		}
		if allocs, _ := c.Allocs(ctx); len(allocs) != 1 || allocs[0].ID() != a.ID() {
			t.Errorf("Allocs = %v, want just %s", allocs, a.ID())
		}

		id := digest.FromString("retry")
		if _, err := a.Put(ctx, id, pool.ExecConfig{Argv: []string{"true"}}); err != nil {
			t.Fatal(err)
		}
		f.fail, f.n = isPath(string(id)), 1
		if err := a.Remove(ctx, id); err != nil {
			t.Errorf("Remove whose first answer was lost: %v, want nil", err)
		}
		f.fail, f.n = func(r *http.Request) bool { return r.Method == "DELETE" }, 1
		if err := a.Free(ctx); err != nil {
			t.Errorf("Free whose first answer was lost: %v, want nil", err)
		}
		if err := a.Free(ctx); !errors.Is(err, ebb.ErrExpired) {
			t.Errorf("a second Free: %v, want ErrExpired", err)
		}
	})
}

// TestNoRetry checks that answers of the server's own are not retried,
// not even ebb.ErrUnavailable, and that a body that cannot be rewound is
// not sent twice.
func TestNoRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		mem := memPool(t)
		f := &flaky{h: newServer(t, ServerConfig{Pool: mem}), fail: func(*http.Request) bool { return false }}
		c := dial(t, ClientConfig{URL: "http://in-process", Token: testToken, Transport: InProcess(f)})
		seen := f.seen
		mem.FailNext(pooltest.OpOffers, ebb.ErrUnavailable)
		if _, err := c.Offers(ctx); !errors.Is(err, ebb.ErrUnavailable) || f.seen != seen+1 {
			t.Errorf("Offers failing with the server's ErrUnavailable: %v after %d requests, want it after 1", err, f.seen-seen)
		}

		f.fail, f.n = isPath("/blobs"), 1
		s := newServer(t, ServerConfig{Repository: newMemRepo()})
		f.h = s
		r, _ := NewRepository(ClientConfig{URL: "http://in-process", Token: testToken, Transport: InProcess(f)})
		_, err := r.Put(ctx, onlyReader{strings.NewReader("once")})
		if !errors.Is(err, ebb.ErrUnavailable) {
			t.Errorf("Put of a reader that cannot rewind, after a gateway error: %v, want ErrUnavailable", err)
		}
	})
}

type onlyReader struct{ r *strings.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// TestUnreachable checks that calls to a server that is not there fail
// with ebb.ErrUnavailable within Timeout, and calls to one known gone for
// good (ClientConfig.Gone) fail at once: ErrExpired on an alloc, and
// ErrClosed on the pool.
func TestUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gone := make(chan struct{})
	ts := httptest.NewServer(newServer(t, ServerConfig{Pool: memPool(t)}))
	const timeout = 300 * time.Millisecond
	var sent atomic.Int32 // requests the client tried to send
	transport := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})
	c := dial(t, ClientConfig{URL: ts.URL, Token: testToken, Timeout: timeout, Gone: gone, Transport: transport})
	offers, err := c.Offers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, err := offers[0].Accept(ctx, pool.AllocMeta{Want: ebb.Requirements{Min: ebb.Resources{"cpu": 1}}})
	if err != nil {
		t.Fatal(err)
	}
	ts.Close()
	c.Close()

	// The call is retried, and gives up within Timeout: well before a
	// context twenty times as long ends.
	before := sent.Load()
	kctx, kcancel := context.WithTimeout(ctx, 20*timeout)
	defer kcancel()
	if _, err := a.Keepalive(kctx, time.Minute); !errors.Is(err, ebb.ErrUnavailable) {
		t.Errorf("Keepalive to a closed server: %v, want ErrUnavailable (within Timeout %v)", err, timeout)
	}
	if n := sent.Load() - before; n < 2 {
		t.Errorf("Keepalive to a closed server tried %d times, want retries", n)
	}

	// Once the server is gone for good, nothing is sent.
	close(gone)
	before = sent.Load()
	if _, err := a.Keepalive(ctx, time.Minute); !errors.Is(err, ebb.ErrExpired) {
		t.Errorf("Keepalive once the server is gone: %v, want ErrExpired", err)
	}
	if _, err := c.Offers(ctx); !errors.Is(err, ebb.ErrClosed) {
		t.Errorf("Offers once the server is gone: %v, want ErrClosed", err)
	}
	if n := sent.Load() - before; n != 0 {
		t.Errorf("calls once the server is gone sent %d requests, want none", n)
	}
}

// TestHang checks that a server that accepts requests and never answers
// (a frozen process) fails calls with ebb.ErrUnavailable after Timeout,
// and Wait after WaitPoll plus Timeout.
func TestHang(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newServer(t, ServerConfig{Pool: memPool(t)})
		var frozen atomic.Bool
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if frozen.Load() {
				<-r.Context().Done()
				return
			}
			s.ServeHTTP(w, r)
		})
		c := dial(t, ClientConfig{URL: "http://in-process", Token: testToken, Transport: InProcess(h), Timeout: 10 * time.Second, WaitPoll: time.Minute})
		ctx := t.Context()
		offers, _ := c.Offers(ctx)
		a, err := offers[0].Accept(ctx, pool.AllocMeta{Want: ebb.Requirements{Min: ebb.Resources{"cpu": 1}}})
		if err != nil {
			t.Fatal(err)
		}
		e, err := a.Put(ctx, digest.FromString("hang"), pool.ExecConfig{Argv: []string{"sleep", "3600"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Keepalive(ctx, time.Hour); err != nil {
			t.Fatal(err)
		}
		frozen.Store(true)
		start := time.Now()
		if _, err := a.Keepalive(ctx, time.Minute); !errors.Is(err, ebb.ErrUnavailable) || time.Since(start) != 10*time.Second {
			t.Errorf("Keepalive to a frozen server: %v after %v, want ErrUnavailable after Timeout (10s)", err, time.Since(start))
		}
		start = time.Now()
		if _, err := e.Wait(ctx); !errors.Is(err, ebb.ErrUnavailable) || time.Since(start) != 70*time.Second {
			t.Errorf("Wait on a frozen server: %v after %v, want ErrUnavailable after WaitPoll+Timeout (70s)", err, time.Since(start))
		}
		frozen.Store(false)
		if err := a.Free(ctx); err != nil {
			t.Errorf("Free once the server thawed: %v", err)
		}
	})
}

// roundTripFunc is an http.RoundTripper of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
