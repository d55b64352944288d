package remote

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/ebbflow/ebb"
)

// The states a worker announces.
const (
	// StateUp: the worker serves, at URL.
	StateUp = "up"
	// StateLeaving: the worker drains and is about to exit; its allocs
	// are lost.
	StateLeaving = "leaving"
)

// An Announcement is what a worker tells its driver about itself: where
// it serves, how to check its certificate, and what its pool holds. A
// worker in a batch queue announces itself to the driver's Registry
// (POST /v1/workers, with the worker's own token as bearer), so that the
// driver needs no route to the worker until it has its address: the
// worker makes the first connection.
type Announcement struct {
	// ID names the worker, as it was started (a job ID, a pod name).
	ID string `json:"id"`
	// URL is the worker's base URL, as for ClientConfig.URL.
	URL string `json:"url"`
	// Pin is the Fingerprint of the worker's certificate, if it serves
	// TLS.
	Pin string `json:"pin,omitempty"`
	// Resources are the capacity of the worker's pool.
	Resources ebb.Resources `json:"resources,omitempty"`
	// State is StateUp or StateLeaving.
	State string `json:"state"`
	// Token is the bearer token the announcement came with, which is
	// the worker's own: the Registry sets it, and it never crosses the
	// wire in the body.
	Token string `json:"-"`
}

// Validate returns an error wrapping ebb.ErrInvalid that names the bad
// field.
func (a Announcement) Validate() error {
	if a.ID == "" {
		return fmt.Errorf("announcement: empty id: %w", ebb.ErrInvalid)
	}
	if u, err := url.Parse(a.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("announcement of %s: url %q: want http:// or https:// and a host: %w", a.ID, a.URL, ebb.ErrInvalid)
	}
	if a.Pin != "" {
		if err := validPin(a.Pin); err != nil {
			return fmt.Errorf("announcement of %s: %w", a.ID, err)
		}
	}
	if err := a.Resources.Validate(); err != nil {
		return fmt.Errorf("announcement of %s: %w", a.ID, err)
	}
	if a.State != StateUp && a.State != StateLeaving {
		return fmt.Errorf("announcement of %s: state %q: want %q or %q: %w", a.ID, a.State, StateUp, StateLeaving, ebb.ErrInvalid)
	}
	return nil
}

// RegistryConfig configures a Registry. Both fields but Logger are
// required.
type RegistryConfig struct {
	// Authorize reports whether a worker with the given bearer token may
	// announce itself: the driver gave it that token when it started the
	// worker. It must compare in constant time (see TokenIs).
	Authorize func(token string) bool

	// Announce receives every valid announcement from an authorized
	// worker, with its Token set; its error, by kind, is the worker's
	// answer. It is called from the request's goroutine, with the
	// request's context, and should hand the announcement on (through a
	// channel, to a provider) rather than do long work.
	Announce func(ctx context.Context, a Announcement) error

	// Reply, when set, makes the answer to an announcement Announce
	// took: what the driver hands the worker in return (the run's peer
	// token). Nil, or a zero reply, answers 204 with no body.
	Reply func(a Announcement) AnnounceReply
	// Logger receives the refused announcements. Nil discards them.
	Logger *slog.Logger
}

// An AnnounceReply is what a driver hands a worker that announced
// itself, in the answer over the connection the worker made: secrets
// that must cross neither a command line nor an environment.
type AnnounceReply struct {
	// PeerToken is the run's peer token (PeerServerConfig.Token): the
	// worker serves its blobs to the run's other workers with it, and
	// fetches theirs. Empty when the driver runs no peer transfers.
	PeerToken string `json:"peer_token,omitempty"`
}

// TokenIs returns an Authorize function that accepts only token, compared
// in constant time.
func TokenIs(token string) func(string) bool {
	want := newTokenCheck(token)
	return func(got string) bool {
		r := http.Request{Header: http.Header{"Authorization": {"Bearer " + got}}}
		return want.ok(&r)
	}
}

// Registry is the driver's end of announcements: an http.Handler serving
// POST /v1/workers. A driver mounts it where its workers can reach it
// (the -driver URL of ebb worker) and hands what it receives to a cluster
// provider. On the same mux, a Server of the driver's repository alone
// (ServerConfig{Repository: ..., Token: ...}, mounted at /v1/blobs) lets
// workers started with -driver-blobs fetch their inputs and store their
// outputs there directly:
//
//	mux.Handle("POST /v1/workers", registry)
//	mux.Handle("/v1/blobs/", blobs)
//	mux.Handle("/v1/blobs", blobs)
//
// It is safe for concurrent use; it holds no state of its own.
type Registry struct {
	cfg      RegistryConfig
	refusals *logLimit // limits the log lines of refused announcements
}

// NewRegistry returns a Registry for cfg, or an error wrapping
// ebb.ErrInvalid when a required field is missing.
func NewRegistry(cfg RegistryConfig) (*Registry, error) {
	if cfg.Authorize == nil || cfg.Announce == nil {
		return nil, fmt.Errorf("remote: RegistryConfig: Authorize and Announce are required: %w", ebb.ErrInvalid)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Registry{cfg: cfg, refusals: newLogLimit(10, time.Second)}, nil
}

// ServeHTTP serves POST /v1/workers: an Announcement as JSON, answered
// 204 when Announce took it.
func (g *Registry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, ok := bearer(r)
	if !ok || !g.cfg.Authorize(token) {
		if ok, suppressed := g.refusals.allow(time.Now()); ok {
			g.cfg.Logger.Warn("remote: refused an announcement without the right token", "from", r.RemoteAddr, "suppressed", suppressed)
		}
		refuse(w)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != prefix+"/workers" {
		writeJSON(w, http.StatusNotFound, wireError{Kinds: []string{"invalid"}, Message: "want POST " + prefix + "/workers"})
		return
	}
	var a Announcement
	err := readJSON(r.Body, &a)
	if err == nil {
		err = a.Validate()
	}
	if err == nil {
		a.Token = token
		err = g.cfg.Announce(r.Context(), a)
	}
	if err != nil {
		status, body := encodeError(err)
		writeJSON(w, status, body)
		return
	}
	if g.cfg.Reply != nil {
		if reply := g.cfg.Reply(a); reply != (AnnounceReply{}) {
			writeJSON(w, http.StatusOK, reply)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// Announce sends a to the Registry at cfg.URL (the driver's base URL),
// with cfg.Token as bearer, retrying transient failures within
// cfg.Timeout as every call does. Announcing again is harmless: a
// registry takes the latest.
func Announce(ctx context.Context, cfg ClientConfig, a Announcement) error {
	_, err := AnnounceFor(ctx, cfg, a)
	return err
}

// AnnounceFor is Announce, returning what the driver handed back: the
// zero AnnounceReply from a driver that hands nothing.
func AnnounceFor(ctx context.Context, cfg ClientConfig, a Announcement) (AnnounceReply, error) {
	var reply AnnounceReply
	if err := a.Validate(); err != nil {
		return reply, err
	}
	c, err := newClient(cfg)
	if err != nil {
		return reply, err
	}
	defer c.Close()
	err = c.do(ctx, &request{op: "announce " + a.State + " " + a.ID, method: "POST", path: prefix + "/workers", in: a, out: &reply})
	return reply, err
}
