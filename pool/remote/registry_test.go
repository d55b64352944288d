package remote

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
)

// TestRegistry announces workers to a registry over TLS: the announcement
// arrives with the worker's token, a wrong token is refused, and a
// malformed announcement never leaves the worker.
func TestRegistry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got := make(chan Announcement, 10)
	reg, err := NewRegistry(RegistryConfig{
		Authorize: TokenIs(testToken),
		Announce: func(ctx context.Context, a Announcement) error {
			if a.ID == "refused" {
				return errors.New("no room: " + ebb.ErrResources.Error())
			}
			got <- a
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(reg)
	defer ts.Close()
	driver := ClientConfig{URL: ts.URL, Token: testToken, Pin: Fingerprint(ts.Certificate().Raw), Timeout: time.Second}
	a := Announcement{ID: "w1", URL: "https://127.0.0.1:1", Pin: Fingerprint([]byte("c")), Resources: ebb.Resources{"cpu": 2}, State: StateUp}
	if err := Announce(ctx, driver, a); err != nil {
		t.Fatalf("Announce: %v", err)
	}
	select {
	case b := <-got:
		if b.ID != a.ID || b.URL != a.URL || b.Pin != a.Pin || !b.Resources.Equal(a.Resources) || b.State != a.State || b.Token != testToken {
			t.Errorf("the registry got %+v, want %+v with the token", b, a)
		}
	default:
		t.Fatal("the registry got nothing")
	}

	wrong := driver
	wrong.Token = "another-token-0123456789"
	if err := Announce(ctx, wrong, a); !errors.Is(err, ErrAuth) {
		t.Errorf("Announce with a wrong token: %v, want ErrAuth", err)
	}
	bad := a
	bad.State = "sideways"
	if err := Announce(ctx, driver, bad); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("Announce of state %q: %v, want ErrInvalid", bad.State, err)
	}
	refused := a
	refused.ID = "refused"
	if err := Announce(ctx, driver, refused); err == nil {
		t.Error("Announce refused by the registry's callback succeeded")
	}
	if len(got) != 0 {
		t.Errorf("the registry got %d more announcements, want none", len(got))
	}

	// Straight requests: a wrong path or method, and a malformed body.
	hc := ts.Client()
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", prefix + "/workers", "", http.StatusNotFound},
		{"POST", prefix + "/other", "{}", http.StatusNotFound},
		{"POST", prefix + "/workers", "{", http.StatusBadRequest},
		{"POST", prefix + "/workers", `{"id":"w","url":"ftp://x","state":"up"}`, http.StatusBadRequest},
	} {
		req, _ := http.NewRequest(c.method, ts.URL+c.path, stringReader(c.body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s %s %s: %d, want %d", c.method, c.path, c.body, resp.StatusCode, c.status)
		}
	}
	if _, err := NewRegistry(RegistryConfig{}); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("NewRegistry without callbacks: %v, want ErrInvalid", err)
	}
}

// TestRegistryReply: a registry with Reply hands the worker what it
// returns, for the announcing worker only after Announce took it; one
// without hands back the zero reply.
func TestRegistryReply(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	peer := NewToken()
	reg, err := NewRegistry(RegistryConfig{
		Authorize: TokenIs(testToken),
		Announce: func(ctx context.Context, a Announcement) error {
			if a.ID == "refused" {
				return errors.New("refused: " + ebb.ErrInvalid.Error())
			}
			return nil
		},
		Reply: func(a Announcement) AnnounceReply {
			if a.State != StateUp {
				return AnnounceReply{}
			}
			return AnnounceReply{PeerToken: peer}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(reg)
	defer ts.Close()
	driver := ClientConfig{URL: ts.URL, Token: testToken, Pin: Fingerprint(ts.Certificate().Raw), Timeout: time.Second}
	a := Announcement{ID: "w1", URL: "https://127.0.0.1:1", Resources: ebb.Resources{"cpu": 2}, State: StateUp}
	reply, err := AnnounceFor(ctx, driver, a)
	if err != nil || reply.PeerToken != peer {
		t.Errorf("AnnounceFor up = %+v, %v; want the peer token", reply, err)
	}
	a.State = StateLeaving
	if reply, err := AnnounceFor(ctx, driver, a); err != nil || reply != (AnnounceReply{}) {
		t.Errorf("AnnounceFor leaving = %+v, %v; want the zero reply", reply, err)
	}
	a.ID, a.State = "refused", StateUp
	if reply, err := AnnounceFor(ctx, driver, a); err == nil || reply.PeerToken != "" {
		t.Errorf("AnnounceFor refused = %+v, %v; want an error and no token", reply, err)
	}
	wrong := driver
	wrong.Token = "another-token-0123456789"
	if reply, err := AnnounceFor(ctx, wrong, a); !errors.Is(err, ErrAuth) || reply.PeerToken != "" {
		t.Errorf("AnnounceFor with a wrong token = %+v, %v; want ErrAuth and no token", reply, err)
	}
}
