package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// execID returns the exec ID named in the path.
func execID(r *http.Request) pool.ExecID { return pool.ExecID(r.PathValue("exec")) }

// exec returns the exec named in the path.
func (s *Server) exec(r *http.Request) (pool.Exec, error) {
	a, err := s.alloc(r)
	if err != nil {
		return nil, err
	}
	return a.Exec(r.Context(), execID(r))
}

func (s *Server) listExecs(r *http.Request) (any, error) {
	a, err := s.alloc(r)
	if err != nil {
		return nil, err
	}
	execs, err := a.Execs(r.Context())
	if err != nil {
		return nil, err
	}
	ids := make([]pool.ExecID, len(execs))
	for i, e := range execs {
		ids[i] = e.ID()
	}
	return ids, nil
}

// put starts the exec and answers its state; a second put of the ID
// answers the state of the exec known by it.
func (s *Server) put(r *http.Request) (any, error) {
	a, err := s.alloc(r)
	if err != nil {
		return nil, err
	}
	id := execID(r)
	var cfg pool.ExecConfig
	if err := readJSON(r.Body, &cfg); err != nil {
		return nil, fmt.Errorf("put %s in alloc %s: %w", id, a.ID(), err)
	}
	if s.Draining() {
		return nil, errDraining(fmt.Sprintf("put %s in alloc %s", id, a.ID()))
	}
	e, err := a.Put(r.Context(), id, cfg)
	if err != nil {
		return nil, err
	}
	return e.Inspect(r.Context())
}

func (s *Server) inspectExec(r *http.Request) (any, error) {
	e, err := s.exec(r)
	if err != nil {
		return nil, err
	}
	return e.Inspect(r.Context())
}

func (s *Server) remove(r *http.Request) (any, error) {
	a, err := s.alloc(r)
	if err != nil {
		return nil, err
	}
	return nil, a.Remove(r.Context(), execID(r))
}

func (s *Server) kill(r *http.Request) (any, error) {
	e, err := s.exec(r)
	if err != nil {
		return nil, err
	}
	return nil, e.Kill(r.Context())
}

// wait is a long poll: it waits for the exec for as long as the query's
// timeout (a Go duration) asks, at most MaxWait, and answers "not done"
// when that passes, or when the server begins to shut down.
func (s *Server) wait(r *http.Request) (any, error) {
	e, err := s.exec(r)
	if err != nil {
		return nil, err
	}
	bound, err := s.waitBound(r.URL.Query().Get("timeout"))
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.pollContext(r, bound)
	defer cancel()
	res, err := e.Wait(ctx)
	switch {
	case err == nil:
		return waitWire{Done: true, Result: &res}, nil
	case ctx.Err() != nil && r.Context().Err() == nil:
		return waitWire{Done: false}, nil
	}
	return nil, err
}

// waitBound returns how long a wait long poll may wait: the timeout q
// asks (a Go duration; none when empty), at most MaxWait.
func (s *Server) waitBound(q string) (time.Duration, error) {
	bound := s.cfg.MaxWait
	if q != "" {
		d, err := time.ParseDuration(q)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("wait: timeout %q: want a duration: %w", q, ebb.ErrInvalid)
		}
		bound = min(bound, d)
	}
	return bound, nil
}

// pollContext returns the context of a long poll: r's, ended after bound
// or once the server begins to shut down.
func (s *Server) pollContext(r *http.Request, bound time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(r.Context(), bound)
	if stopc := stopping(r.Context()); stopc != nil {
		go func() {
			select {
			case <-stopc:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	return ctx, cancel
}

// logs streams one of the exec's streams, flushing as it goes. An error
// after the stream began goes in the Ebb-Error trailer.
func (s *Server) logs(w http.ResponseWriter, r *http.Request) {
	e, err := s.exec(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	var stream pool.Stream
	switch q.Get("stream") {
	case "stdout", "":
		stream = pool.Stdout
	case "stderr":
		stream = pool.Stderr
	default:
		s.fail(w, r, fmt.Errorf("logs: stream %q: want stdout or stderr: %w", q.Get("stream"), ebb.ErrInvalid))
		return
	}
	follow, _ := strconv.ParseBool(q.Get("follow"))
	rc, err := e.Logs(r.Context(), stream, follow)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer rc.Close()
	s.stream(w, r, rc, follow)
}

// stream copies rc to the response, flushing after every read when flush
// is set, and reports a read error in the Ebb-Error trailer.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, rc io.Reader, flush bool) {
	w.Header().Set("Trailer", trailerError)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	rcw := http.NewResponseController(w)
	if flush {
		rcw.Flush()
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := rc.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return // the client went away
			}
			if flush {
				rcw.Flush()
			}
		}
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			if r.Context().Err() == nil {
				_, body := encodeError(err)
				w.Header().Set(trailerError, string(mustJSON(body)))
			}
			return
		}
	}
}
