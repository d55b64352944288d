package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/ebbflow/ebb/dashboard"
	"github.com/ebbflow/ebb/runner"
)

// uiFlags are the flags of run and resume that serve the run's dashboard.
type uiFlags struct {
	addr, token string
}

func (u *uiFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&u.addr, "ui", "", "serve a live dashboard of the run at `ADDR` (host:port, as 127.0.0.1:8080); on an address other than loopback it asks for a token (-ui-token, or one made for the run and printed with the address)")
	fs.StringVar(&u.token, "ui-token", "", "the `token` the dashboard asks of viewers that do not come over loopback (default: $EBB_UI_TOKEN, or one made for the run)")
}

// tokenFor returns the token the dashboard asks of viewers beyond
// loopback: -ui-token, else env ($EBB_UI_TOKEN), else, when the address
// is not loopback, one made now (made is then set); on loopback with
// neither, none.
func (u uiFlags) tokenFor(env string) (token string, made bool) {
	switch {
	case u.token != "":
		return u.token, false
	case env != "":
		return env, false
	case dashboard.Loopback(u.addr):
		return "", false
	}
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b), true
}

// uiServer serves a run's dashboard until stop.
type uiServer struct {
	srv    *http.Server
	cancel context.CancelFunc
	ran    chan error // the dashboard's Run
	served chan error // the server's Serve
}

// uiShutdown bounds how long stop waits for the viewers to take the
// final view.
const uiShutdown = 5 * time.Second

// uiEvents is how many events the dashboard may lag behind the run
// before it loses some.
const uiEvents = 1 << 16

// startUI serves the dashboard of r (made with cfg, whose Events is set)
// at u.addr, and prints its address on stderr. It follows the run under
// a context of its own, so that the final view, made at stop, tells of
// an interrupted run too.
func startUI(ctx context.Context, u uiFlags, r *runner.Runner, cfg runner.Config, workers string, stderr io.Writer) (*uiServer, error) {
	src, err := dashboard.NewRunSource(r, cfg)
	if err != nil {
		return nil, err
	}
	if e, ok := cfg.Aux.(dashboard.ElasticStatuser); ok {
		src.Elastic, src.Engine = e, engineOf(workers)
	}
	token, made := u.tokenFor(os.Getenv("EBB_UI_TOKEN"))
	d, err := dashboard.New(dashboard.Config{Source: src, Token: token, Buffer: uiEvents})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", u.addr)
	if err != nil {
		return nil, fmt.Errorf("-ui: %w", err)
	}
	where := "http://" + ln.Addr().String() + "/"
	if made {
		// The viewer has no other way to learn it.
		where += "?token=" + url.QueryEscape(token)
	}
	fmt.Fprintf(stderr, "dashboard: %s\n", where)
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &uiServer{srv: &http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second}, cancel: cancel,
		ran: make(chan error, 1), served: make(chan error, 1)}
	go func() { s.ran <- d.Run(dctx) }()
	go func() { s.served <- s.srv.Serve(ln) }()
	return s, nil
}

// stop makes the final view, lets the viewers take it (for at most
// uiShutdown), and stops serving.
func (s *uiServer) stop() error {
	s.cancel()
	<-s.ran
	ctx, cancel := context.WithTimeout(context.Background(), uiShutdown)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	if serr := <-s.served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("-ui: %w", err)
	}
	return nil
}

// engineOf names the provider of -workers, for the dashboard.
func engineOf(workers string) string {
	w, err := readWorkers(workers)
	if err != nil || w.Provider == "" {
		return "workers"
	}
	return w.Provider
}
