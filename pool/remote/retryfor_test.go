package remote

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/repository"
	"github.com/opencontainers/go-digest"
)

// A server that is away comes back at the same address: servedAt serves
// h there once the test closes upc, from outside the synctest bubble (a
// listener's Accept inside it would keep its clock from moving), and
// closes its answer once it serves. The server stops when t ends.
func servedAt(t *testing.T, addr string, h http.Handler, upc <-chan struct{}) <-chan struct{} {
	serving := make(chan struct{})
	stop, done := make(chan struct{}), make(chan struct{})
	hs := &http.Server{Handler: h}
	go func() {
		defer close(done)
		select {
		case <-upc:
		case <-stop:
			return
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("listening again at %s: %v", addr, err)
			close(serving)
			return
		}
		close(serving)
		hs.Serve(ln)
	}()
	t.Cleanup(func() {
		close(stop)
		hs.Close()
		<-done
	})
	return serving
}

// freeAddr returns a loopback address that nothing listens at.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// A blob Put to a server that is away for minutes, far longer than
// Timeout, keeps retrying with RetryFor and succeeds once the server
// serves again at its address; the blob is then stored once.
func TestRetryForOutlastsAnOutage(t *testing.T) {
	dir, err := repository.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	upc := make(chan struct{})
	serving := servedAt(t, addr, newServer(t, ServerConfig{Repository: dir}), upc)
	const content = "stored after the outage\n"
	synctest.Test(t, func(t *testing.T) {
		repo, err := NewRepository(ClientConfig{URL: "http://" + addr, Token: testToken, Timeout: time.Second, RetryFor: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		defer repo.Close()
		type result struct {
			d   digest.Digest
			err error
		}
		resc := make(chan result, 1)
		start := time.Now()
		go func() {
			d, err := repo.Put(t.Context(), strings.NewReader(content))
			resc <- result{d, err}
		}()
		// The server stays away three minutes, which the client spends
		// in its backoff: a dial refused at once, then a timer.
		const gap = 3 * time.Minute
		time.Sleep(gap)
		select {
		case r := <-resc:
			t.Fatalf("Put ended while the server was away: %v, %v", r.d, r.err)
		default:
		}
		close(upc)
		<-serving // the clock stands still until the server listens
		r := <-resc
		if r.err != nil {
			t.Fatalf("Put after the outage: %v", r.err)
		}
		if want := digest.FromString(content); r.d != want {
			t.Errorf("Put = %s, want %s", r.d, want)
		}
		// The backoff is bounded by RetryMax: the server is found within
		// 2 s of its return.
		if took := time.Since(start); took < gap || took > gap+DefaultRetryMax {
			t.Errorf("Put took %v, want within %v of the server's return after %v", took, DefaultRetryMax, gap)
		}
	})
	if info, err := dir.Stat(context.Background(), digest.FromString(content)); err != nil || info.Size != int64(len(content)) {
		t.Errorf("the blob in the server's repository: %+v, %v", info, err)
	}
}

// RetryFor is a bound: a call that keeps failing in a transient way fails
// with ebb.ErrUnavailable once it has passed. And ctx ends a call at
// once, however long RetryFor is.
func TestRetryForBounds(t *testing.T) {
	addr := freeAddr(t)
	synctest.Test(t, func(t *testing.T) {
		repo, err := NewRepository(ClientConfig{URL: "http://" + addr, Token: testToken, Timeout: time.Second, RetryFor: 5 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		defer repo.Close()
		start := time.Now()
		_, err = repo.Put(t.Context(), strings.NewReader("never stored\n"))
		if !errors.Is(err, ebb.ErrUnavailable) {
			t.Errorf("Put to nobody = %v, want ebb.ErrUnavailable", err)
		}
		if took := time.Since(start); took < 5*time.Minute-DefaultRetryMax || took > 5*time.Minute {
			t.Errorf("Put to nobody gave up after %v, want within %v before RetryFor (5m0s)", took, DefaultRetryMax)
		}

		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		start = time.Now()
		go func() {
			_, err := repo.Put(ctx, strings.NewReader("never stored\n"))
			errc <- err
		}()
		time.Sleep(time.Minute)
		cancel()
		synctest.Wait()
		select {
		case err := <-errc:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Put with ctx cancelled = %v, want context.Canceled", err)
			}
			if took := time.Since(start); took != time.Minute {
				t.Errorf("Put ended %v after it began, want at the cancel (1m0s)", took)
			}
		default:
			t.Fatal("Put did not end with its context")
		}
	})
}

// A refusal is final whatever RetryFor says: the token is wrong, and will
// be wrong on every attempt.
func TestRetryForNotOnRefusal(t *testing.T) {
	dir, err := repository.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := serveHTTP(t, newServer(t, ServerConfig{Repository: dir}))
	synctest.Test(t, func(t *testing.T) {
		cfg.Token = NewToken()
		cfg.Timeout, cfg.RetryFor = time.Second, time.Hour
		repo, err := NewRepository(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer repo.Close()
		start := time.Now()
		_, err = repo.Put(t.Context(), strings.NewReader("refused\n"))
		if !errors.Is(err, ErrAuth) {
			t.Errorf("Put with another token = %v, want ErrAuth", err)
		}
		if took := time.Since(start); took != 0 {
			t.Errorf("Put with another token took %v, want no retry", took)
		}
	})
}

// lateTransport fails its first round trip at once, as a transport whose
// connection broke does, but goes on reading that attempt's body until
// the test releases it; the next attempts read their body whole.
type lateTransport struct {
	calls   atomic.Int32
	release chan struct{}
	got     chan string // the body of the attempt that succeeds
}

func (lt *lateTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if lt.calls.Add(1) == 1 {
		go func() {
			<-lt.release
			req.Body.Read(make([]byte, 5))
			req.Body.Close()
		}()
		return nil, errors.New("connection reset by peer")
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	lt.got <- string(b)
	d := digest.FromBytes(b)
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{"digest":"` + string(d) + `"}`))}, nil
}

// A body is rewound for a retry only once the transport has let go of it
// (closed it): an earlier attempt's late reads must not take from the
// next attempt's content, which would store, and name, other bytes.
func TestRetryRewindsOnceTheTransportLetsGo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lt := &lateTransport{release: make(chan struct{}), got: make(chan string, 1)}
		repo, err := NewRepository(ClientConfig{URL: "http://driver", Token: testToken, Transport: lt})
		if err != nil {
			t.Fatal(err)
		}
		const content = "the whole of the output\n"
		type result struct {
			d   digest.Digest
			err error
		}
		resc := make(chan result, 1)
		go func() {
			d, err := repo.Put(t.Context(), strings.NewReader(content))
			resc <- result{d, err}
		}()
		time.Sleep(time.Second) // past every backoff
		synctest.Wait()
		if n := lt.calls.Load(); n != 1 {
			t.Errorf("%d attempts while the first one's body was still read, want 1", n)
		}
		close(lt.release)
		r := <-resc
		if want := digest.FromString(content); r.err != nil || r.d != want {
			t.Errorf("Put = %s, %v; want %s", r.d, r.err, want)
		}
		if got := <-lt.got; got != content {
			t.Errorf("the retry sent %q, want %q", got, content)
		}
	})
}
