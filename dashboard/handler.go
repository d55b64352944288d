package dashboard

import (
	"bytes"
	"crypto/subtle"
	"embed"
	"fmt"
	"net"
	"net/http"
	"strings"
)

//go:embed assets
var assets embed.FS

// buildPage returns the page, with its style and script inlined: one
// response that needs no other.
func buildPage() ([]byte, error) {
	read := func(name string) ([]byte, error) { return assets.ReadFile("assets/" + name) }
	page, err := read("index.html")
	if err != nil {
		return nil, err
	}
	style, err := read("style.css")
	if err != nil {
		return nil, err
	}
	script, err := read("app.js")
	if err != nil {
		return nil, err
	}
	page = bytes.Replace(page, []byte("/*STYLE*/"), style, 1)
	page = bytes.Replace(page, []byte("/*SCRIPT*/"), script, 1)
	return page, nil
}

// ServeHTTP serves the page (GET /), the latest view as JSON (GET view)
// and the stream of views as server-sent events (GET events), relative to
// where it is mounted: mount it at a path that ends in a slash, as in
// mux.Handle("/run/", http.StripPrefix("/run", d)). It answers only GET
// and HEAD, and refuses a request that is not allowed (see the package
// documentation) with 401 Unauthorized.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "the dashboard is read-only", http.StatusMethodNotAllowed)
		return
	}
	if !d.allowed(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ebb dashboard"`)
		http.Error(w, "this dashboard needs its token: add ?token=TOKEN to the address", http.StatusUnauthorized)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer") // the token may be in the address
	switch strings.TrimPrefix(r.URL.Path, "/") {
	case "", "index.html":
		// The page fetches nothing from elsewhere, and nothing may embed
		// it.
		h.Set("Content-Security-Policy", "default-src 'none'; connect-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; frame-ancestors 'none'")
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.Write(d.page)
	case "view":
		h.Set("Content-Type", "application/json")
		w.Write(d.cur.Load().json)
	case "events":
		d.stream(w, r)
	default:
		http.NotFound(w, r)
	}
}

// stream sends every new view to one viewer as a server-sent event, until
// the viewer goes or the final view is sent.
func (d *Dashboard) stream(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	d.viewers.Add(1)
	defer d.viewers.Add(-1)
	var sent uint64
	first := true
	for {
		p := d.cur.Load()
		if first || p.seq != sent {
			if _, err := fmt.Fprintf(w, "data: %s\n\n", p.json); err != nil {
				return
			}
			if p.final {
				fmt.Fprint(w, "event: end\ndata: {}\n\n")
				rc.Flush()
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			first, sent = false, p.seq
		}
		select {
		case <-p.changed:
		case <-r.Context().Done():
			return
		}
	}
}

// allowed reports whether r may be served: it carries the token, or it
// came over loopback to a loopback host name (a page elsewhere that
// resolves its own name to 127.0.0.1 gets no view without the token).
func (d *Dashboard) allowed(r *http.Request) bool {
	if d.cfg.Token != "" {
		got := r.URL.Query().Get("token")
		if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			got = bearer
		}
		if got != "" {
			return subtle.ConstantTimeCompare([]byte(got), []byte(d.cfg.Token)) == 1
		}
	}
	return overLoopback(r)
}

// overLoopback reports whether r reached the server on a loopback address,
// naming a loopback host.
func overLoopback(r *http.Request) bool {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return false
	}
	tcp, ok := local.(*net.TCPAddr)
	if !ok || !tcp.IP.IsLoopback() {
		return false
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Loopback reports whether a listen address (host:port) is on loopback
// only: an explicit loopback IP, or "localhost". A program serving the
// dashboard elsewhere should set Config.Token.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
