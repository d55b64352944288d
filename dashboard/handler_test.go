package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/runner"
)

// fakeSource is a run without events whose status the test sets.
type fakeSource struct {
	flow *ebb.Flow
	bus  *runner.EventBus

	mu     sync.Mutex
	status Status
	polled chan struct{} // a token at each Status, when set
}

func newFakeSource() *fakeSource {
	return &fakeSource{flow: &ebb.Flow{Name: "fake", Tasks: []ebb.Task{{Name: "a", Argv: []string{"true"}}}}, bus: runner.NewEventBus()}
}

func (s *fakeSource) Flow() *ebb.Flow                         { return s.flow }
func (s *fakeSource) Subscribe(size int) *runner.Subscription { return s.bus.Subscribe(size) }
func (s *fakeSource) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

func (s *fakeSource) setPhase(p runner.Phase) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.State.Phase = p
}

// request returns a GET of target as it reaches a server listening on
// local, for Host.
func request(target, local, host string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.Host = host
	if local != "" {
		addr, err := net.ResolveTCPAddr("tcp", local)
		if err != nil {
			panic(err)
		}
		r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, addr))
	}
	return r
}

func TestAccess(t *testing.T) {
	src := newFakeSource()
	open, err := New(Config{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	locked, err := New(Config{Source: src, Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		d      *Dashboard
		method string
		target string
		local  string // where the request arrived
		host   string
		bearer string
		want   int
	}{
		{"loopback", open, "GET", "/", "127.0.0.1:8080", "127.0.0.1:8080", "", 200},
		{"loopback localhost", open, "GET", "/view", "127.0.0.1:8080", "localhost:8080", "", 200},
		{"loopback v6", open, "GET", "/view", "[::1]:8080", "[::1]:8080", "", 200},
		{"loopback, a foreign host name", open, "GET", "/view", "127.0.0.1:8080", "evil.example:8080", "", 401},
		{"elsewhere, no token set", open, "GET", "/view", "10.1.2.3:8080", "10.1.2.3:8080", "", 401},
		{"elsewhere, token given but none set", open, "GET", "/view?token=s3cret", "10.1.2.3:8080", "10.1.2.3:8080", "", 401},
		{"no local address", open, "GET", "/view", "", "127.0.0.1:8080", "", 401},
		{"elsewhere, no token", locked, "GET", "/", "10.1.2.3:8080", "10.1.2.3:8080", "", 401},
		{"elsewhere, wrong token", locked, "GET", "/view?token=guess", "10.1.2.3:8080", "10.1.2.3:8080", "", 401},
		{"elsewhere, token", locked, "GET", "/?token=s3cret", "10.1.2.3:8080", "10.1.2.3:8080", "", 200},
		{"elsewhere, view with token", locked, "GET", "/view?token=s3cret", "0.0.0.0:8080", "run.example:8080", "", 200},
		{"elsewhere, bearer", locked, "GET", "/view", "10.1.2.3:8080", "10.1.2.3:8080", "s3cret", 200},
		{"elsewhere, wrong bearer", locked, "GET", "/view", "10.1.2.3:8080", "10.1.2.3:8080", "s3cre", 401},
		{"loopback, wrong token", locked, "GET", "/view?token=guess", "127.0.0.1:8080", "127.0.0.1:8080", "", 401},
		{"loopback, no token needed", locked, "GET", "/view", "127.0.0.1:8080", "127.0.0.1:8080", "", 200},
		{"read-only", open, "POST", "/view", "127.0.0.1:8080", "127.0.0.1:8080", "", 405},
		{"read-only with token", locked, "DELETE", "/?token=s3cret", "10.1.2.3:8080", "10.1.2.3:8080", "", 405},
		{"unknown path", open, "GET", "/nope", "127.0.0.1:8080", "127.0.0.1:8080", "", 404},
	} {
		r := request(tc.target, tc.local, tc.host)
		r.Method = tc.method
		if tc.bearer != "" {
			r.Header.Set("Authorization", "Bearer "+tc.bearer)
		}
		w := httptest.NewRecorder()
		tc.d.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%s: %s %s on %s (Host %s): %d, want %d", tc.name, tc.method, tc.target, tc.local, tc.host, w.Code, tc.want)
		}
		if w.Code == 200 && strings.HasPrefix(tc.target, "/view") && !json.Valid(w.Body.Bytes()) {
			t.Errorf("%s: the view is not JSON: %s", tc.name, w.Body)
		}
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:0": true, "localhost:8080": true, "[::1]:80": true, "127.1.2.3:9": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:80": false, "10.0.0.1:80": false, "example.org:80": false, "nonsense": false,
	} {
		if got := Loopback(addr); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// The page needs nothing but itself: no script, style, image or font
// from anywhere, and no request to any other origin.
func TestPageSelfContained(t *testing.T) {
	page, err := buildPage()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(page), "/*STYLE*/") || strings.Contains(string(page), "/*SCRIPT*/") {
		t.Fatal("the style or the script was not inlined")
	}
	for _, re := range []string{`(?i)\bsrc\s*=`, `(?i)<link\b`, `(?i)@import`, `(?i)url\(`, `(?i)//[a-z0-9.-]+\.[a-z]{2,}/`} {
		for _, m := range regexp.MustCompile(re).FindAllString(string(page), -1) {
			if m == "//www.w3.org/" { // the SVG namespace: a name, not a fetch
				continue
			}
			t.Errorf("the page refers elsewhere: %q (%s)", m, re)
		}
	}
}

// Viewers get the view over server-sent events as it changes, and the
// stream ends after the final view.
func TestStream(t *testing.T) {
	src := newFakeSource()
	src.setPhase(runner.PhaseInit)
	d, err := New(Config{Source: src, Interval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(nil, 1<<20)
	next := func() (event string, v view) {
		t.Helper()
		event = "message"
		for lines.Scan() {
			line := lines.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				if event == "message" {
					if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &v); err != nil {
						t.Fatal(err)
					}
				}
			case line == "":
				return event, v
			}
		}
		t.Fatalf("the stream ended: %v", lines.Err())
		return
	}
	if _, v := next(); v.Run.Phase != "init" {
		t.Fatalf("first view: phase %q, want init", v.Run.Phase)
	}
	runCtx, stopRun := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- d.Run(runCtx) }()
	src.setPhase(runner.PhaseEval)
	var v view
	for v.Run.Phase != "eval" {
		_, v = next()
	}
	if v.Viewers != 1 {
		t.Errorf("view says %d viewers, want 1", v.Viewers)
	}
	src.setPhase(runner.PhaseDone)
	for v.Run.Phase != "done" {
		_, v = next()
	}
	stopRun()
	if err := <-ran; !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v, want context.Canceled", err)
	}
	for !v.Final {
		_, v = next()
	}
	if ev, _ := next(); ev != "end" {
		t.Errorf("after the final view: event %q, want end", ev)
	}
	if lines.Scan() {
		t.Errorf("the stream goes on after its end: %q", lines.Text())
	}
	if err := d.Run(ctx); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("second Run: %v, want ErrInvalid", err)
	}
	// A viewer that comes after gets the final view and the end at once.
	resp2, err := http.Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	lines = bufio.NewScanner(resp2.Body)
	if _, v := next(); !v.Final {
		t.Errorf("a late viewer's view is not final")
	}
	resp2.Body.Close()
}

func TestNewRejects(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no source":         {},
		"negative interval": {Source: newFakeSource(), Interval: -1},
		"negative buffer":   {Source: newFakeSource(), Buffer: -1},
	} {
		if _, err := New(cfg); !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := NewRunSource(nil, runner.Config{}); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("NewRunSource(nil): %v, want ErrInvalid", err)
	}
}
