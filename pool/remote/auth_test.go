package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository"
	"github.com/opencontainers/go-digest"
)

// endpoint is one route of the protocol, with a body that would change
// something if it were served.
type endpoint struct {
	method, path, body string
}

// allEndpoints lists every route of the server, aimed at a live alloc, a
// running exec and a stored blob, plus a path that is no route.
func allEndpoints(offer, alloc string, exec pool.ExecID, blob digest.Digest) []endpoint {
	ap, xp := allocPath(alloc), execPath(alloc, exec)
	other := execPath(alloc, digest.FromString("another exec"))
	return []endpoint{
		{"GET", prefix + "/pool", ""},
		{"GET", prefix + "/offers", ""},
		{"POST", offerPath(offer), `{"want":{"min":{"cpu":1}}}`},
		{"GET", prefix + "/allocs", ""},
		{"GET", ap, ""},
		{"DELETE", ap, ""},
		{"POST", ap + "/keepalive", `{"lease_ns":1}`},
		{"GET", ap + "/execs", ""},
		{"PUT", other, `{"argv":["true"]}`},
		{"GET", xp, ""},
		{"DELETE", xp, ""},
		{"GET", xp + "/wait?timeout=1ms", ""},
		{"POST", xp + "/kill", ""},
		{"GET", xp + "/logs?follow=true", ""},
		{"POST", batchPath(alloc, "batch"), `{"ops":[{"op":"put","id":"` + string(other) + `","config":{"argv":["true"]}},{"op":"remove","id":"` + string(exec) + `"}]}`},
		{"GET", batchPath(alloc, "wait") + "?timeout=1ms&id=" + url.QueryEscape(string(exec)), ""},
		{"POST", prefix + "/blobs", "content that must not be stored"},
		{"GET", blobPath(blob), ""},
		{"GET", blobPath(blob) + "/stat", ""},
		{"GET", "/no/such/route", ""},
		{"POST", prefix + "/workers", `{"id":"w","url":"http://x","state":"up"}`},
	}
}

// badCredentials are Authorization headers the server must refuse.
func badCredentials() map[string]string {
	return map[string]string{
		"none":          "",
		"wrong token":   "Bearer wrong-token-0123456789abcdef",
		"token prefix":  "Bearer " + testToken[:len(testToken)-1],
		"token longer":  "Bearer " + testToken + "x",
		"basic scheme":  "Basic " + testToken,
		"no scheme":     testToken,
		"empty bearer":  "Bearer ",
		"lower bearer":  "bearer " + testToken,
		"doubled token": "Bearer " + testToken + " " + testToken,
	}
}

// TestAuthRefused sends every endpoint every bad credential, over a real
// connection: each answer is 401 with the unauthenticated kind, and
// nothing changes: no pool call is made, the alloc and its running exec
// live on, and no blob is stored.
func TestAuthRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mem := memPool(t)
	repo, err := repository.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := serveTLS(t, newServer(t, ServerConfig{Pool: mem, Repository: repo}))
	c := dial(t, cfg)

	offers, err := c.Offers(ctx)
	if err != nil || len(offers) == 0 {
		t.Fatalf("Offers = %d, %v", len(offers), err)
	}
	a, err := offers[0].Accept(ctx, pool.AllocMeta{Want: ebb.Requirements{Min: ebb.Resources{"cpu": 1}}})
	if err != nil {
		t.Fatal(err)
	}
	id := digest.FromString("auth: running")
	e, err := a.Put(ctx, id, pool.ExecConfig{Argv: []string{"sleep", "1000"}})
	if err != nil {
		t.Fatal(err)
	}
	blob, err := c.Repository().Put(ctx, strings.NewReader("stored"))
	if err != nil {
		t.Fatal(err)
	}
	offers, _ = c.Offers(ctx)
	before := mem.Stats()

	hc := &http.Client{Transport: c.own}
	for _, ep := range allEndpoints(offers[0].ID(), a.ID(), id, blob) {
		for name, auth := range badCredentials() {
			req, err := http.NewRequestWithContext(ctx, ep.method, cfg.URL+ep.path, strings.NewReader(ep.body))
			if err != nil {
				t.Fatal(err)
			}
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatalf("%s %s with %s: %v", ep.method, ep.path, name, err)
			}
			var w wireError
			json.NewDecoder(resp.Body).Decode(&w)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || len(w.Kinds) != 1 || w.Kinds[0] != kindUnauthenticated {
				t.Errorf("%s %s with %s: %d %+v, want 401 and kind %q", ep.method, ep.path, name, resp.StatusCode, w, kindUnauthenticated)
			}
		}
	}

	after := mem.Stats()
	if !maps.Equal(before.Calls, after.Calls) || before.Allocs != after.Allocs || before.Frees != after.Frees || before.Execs != after.Execs {
		t.Errorf("the pool was called by refused requests: stats before %+v, after %+v", before, after)
	}
	if in, err := e.Inspect(ctx); err != nil || in.State != pool.ExecRunning {
		t.Errorf("exec after refused requests: %+v, %v; want it still running", in, err)
	}
	if _, err := a.Keepalive(ctx, time.Minute); err != nil {
		t.Errorf("alloc after refused requests: Keepalive: %v, want it alive", err)
	}
	if _, err := repo.Stat(ctx, digest.FromString("content that must not be stored")); !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("Stat of a blob a refused request sent: %v, want ErrNotExist", err)
	}
}

// TestAuthClient checks what a client with a wrong token gets: ErrAuth,
// which is ebb.ErrInvalid, at once and without retries.
func TestAuthClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var requests int
	s := newServer(t, ServerConfig{Pool: memPool(t)})
	counting := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests++
		s.ServeHTTP(w, r)
	})
	cfg := ClientConfig{URL: "http://in-process", Token: "wrong-token-0123456789", Transport: InProcess(counting)}
	_, err := Dial(ctx, cfg)
	if !errors.Is(err, ErrAuth) || !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("Dial with a wrong token: %v, want ErrAuth and ebb.ErrInvalid", err)
	}
	if requests != 1 {
		t.Errorf("Dial with a wrong token made %d requests, want 1 (no retry)", requests)
	}
}

// TestTokenValidation checks that short and unprintable tokens are
// refused on both ends, without showing the token.
func TestTokenValidation(t *testing.T) {
	for _, tok := range []string{"", "short", "has a space in it 0123", "tab\tinside-0123456789", "caf\u00e9-0123456789abcdef"} {
		if _, err := NewServer(ServerConfig{Pool: memPool(t), Token: tok}); !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("NewServer(token %q): %v, want ebb.ErrInvalid", tok, err)
		} else if tok != "" && strings.Contains(err.Error(), tok) {
			t.Errorf("NewServer's error %q shows the token", err)
		}
		if _, err := newClient(ClientConfig{URL: "http://x", Token: tok}); !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("client config with token %q: %v, want ebb.ErrInvalid", tok, err)
		}
	}
	if tok := NewToken(); validToken("NewToken", tok) != nil || len(tok) != 64 {
		t.Errorf("NewToken() = %q, want 64 valid characters", tok)
	}
}

// TestAuthBody checks that a refused request's body is not read into
// anything: a huge body is refused as fast as a small one.
func TestAuthBody(t *testing.T) {
	s := newServer(t, ServerConfig{Pool: memPool(t)})
	rt := InProcess(s)
	req, _ := http.NewRequest("POST", "http://x"+prefix+"/blobs", io.LimitReader(zeros{}, 1<<40))
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !bytes.Contains(b, []byte(kindUnauthenticated)) {
		t.Errorf("POST of a terabyte without a token: %d %s, want 401", resp.StatusCode, b)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
