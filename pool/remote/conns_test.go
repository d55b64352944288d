package remote

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// openListener counts the connections it accepted that are still open.
type openListener struct {
	net.Listener
	open atomic.Int32
}

func (l *openListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.open.Add(1)
	return &openConn{Conn: c, l: l}, nil
}

type openConn struct {
	net.Conn
	l    *openListener
	once sync.Once
}

func (c *openConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// TestIdleConnsDoNotLockOut opens many connections that send nothing, as
// anyone who can reach the port can, and checks that a real client is
// still served and that the server keeps no more of them open than
// MaxIdleConns.
func TestIdleConnsDoNotLockOut(t *testing.T) {
	const idle = 300
	s := newServer(t, ServerConfig{Pool: memPool(t)})
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &openListener{Listener: inner}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range idle {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatalf("connection %d: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), time.Minute)
	defer dcancel()
	c, err := Dial(dctx, ClientConfig{URL: "http://" + ln.Addr().String(), Token: testToken})
	if err != nil {
		t.Fatalf("Dial after %d idle connections: %v", idle, err)
	}
	defer c.Close()
	if _, err := c.Offers(dctx); err != nil {
		t.Errorf("Offers after %d idle connections: %v", idle, err)
	}
	// Every connection was accepted before the client's was served, and
	// the bound is kept as each is accepted; the client's may still be
	// active.
	if got, max := ln.open.Load(), int32(DefaultMaxIdleConns+1); got > max {
		t.Errorf("%d connections open on the server, want at most %d", got, max)
	}
	if n := s.conns.count(); n > DefaultMaxIdleConns {
		t.Errorf("%d connections without a request tracked, want at most %d", n, DefaultMaxIdleConns)
	}
}

func TestLogLimit(t *testing.T) {
	l := newLogLimit(3, time.Second)
	t0 := time.Unix(1e9, 0)
	for _, step := range []struct {
		at         time.Duration
		ok         bool
		suppressed int
	}{
		{0, true, 0}, {0, true, 0}, {0, true, 0}, // the burst
		{0, false, 0}, {100 * time.Millisecond, false, 0}, // held back
		{time.Second, true, 2}, // one more token, and the count
		{time.Second, false, 0},
		{time.Hour, true, 1}, {time.Hour, true, 0}, {time.Hour, true, 0}, // full again, never more than the burst
		{time.Hour, false, 0},
		{time.Hour - time.Minute, false, 0}, // time going back adds nothing
	} {
		ok, n := l.allow(t0.Add(step.at))
		if ok != step.ok || n != step.suppressed {
			t.Fatalf("allow at +%v = %v, %d; want %v, %d", step.at, ok, n, step.ok, step.suppressed)
		}
	}
}

// TestRefusedLogLimited checks that a flood of refused requests logs ten
// lines, then one a second saying how many it left out.
func TestRefusedLogLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		s := newServer(t, ServerConfig{Pool: memPool(t), Logger: slog.New(slog.NewTextHandler(&buf, nil))})
		refuse := func(n int) {
			for range n {
				w := httptest.NewRecorder()
				s.ServeHTTP(w, httptest.NewRequest("GET", prefix+"/pool", nil))
				if w.Code != http.StatusUnauthorized {
					t.Fatalf("status %d, want 401", w.Code)
				}
			}
		}
		refuse(1000)
		if got := strings.Count(buf.String(), "refused a request"); got != 10 {
			t.Errorf("1000 refusals logged %d lines, want 10:\n%s", got, buf.String())
		}
		buf.Reset()
		time.Sleep(time.Second) // fake time
		refuse(5)
		if got := buf.String(); strings.Count(got, "refused a request") != 1 || !strings.Contains(got, "suppressed=990") {
			t.Errorf("a second later, 5 refusals logged:\n%s\nwant one line saying suppressed=990", got)
		}
	})
}
