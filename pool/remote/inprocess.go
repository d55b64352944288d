package remote

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
)

// InProcess returns an http.RoundTripper that serves every request by
// calling h in a new goroutine, with no socket in between: a client whose
// ClientConfig.Transport it is talks to a server in the same process.
// Everything it does is goroutines and channels, so a client and a server
// made in one testing/synctest bubble run on the bubble's fake clock (a
// lease of an hour lapses in no time), which no real connection allows.
//
// The response streams: RoundTrip returns once h has written its headers
// (or returned), and the body is what h writes, as h writes it. Trailers
// declared in the "Trailer" header are delivered at the end of the body.
// Cancelling the request's context cancels the context h sees and ends
// the body. Every goroutine it starts ends when h returns.
func InProcess(h http.Handler) http.RoundTripper { return inProcess{h} }

type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	pr, pw := io.Pipe()
	w := &pipeWriter{header: make(http.Header), pw: pw, headerc: make(chan struct{})}
	sreq := req.Clone(ctx)
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "in-process"
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	resp := &http.Response{
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Request:       req,
		ContentLength: -1,
		Trailer:       make(http.Header),
	}
	go func() {
		defer func() {
			w.WriteHeader(http.StatusOK) // if h wrote nothing
			w.copyTrailers(resp.Trailer)
			pw.CloseWithError(ctx.Err()) // nil: io.EOF
			if req.Body != nil {
				req.Body.Close()
			}
		}()
		t.h.ServeHTTP(w, sreq)
	}()
	select {
	case <-w.headerc:
	case <-ctx.Done():
		cancel()
		pr.CloseWithError(ctx.Err())
		return nil, ctx.Err()
	}
	resp.StatusCode = w.status
	resp.Status = http.StatusText(w.status)
	resp.Header = w.sent
	// A cancelled request ends the body with the context's error, even
	// while the handler still runs.
	stop := context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) })
	resp.Body = &pipeBody{pr: pr, cancel: cancel, stop: stop}
	return resp, nil
}

// A pipeWriter is the http.ResponseWriter of an in-process request: the
// body goes into a pipe, the headers are sent once, on the first write.
type pipeWriter struct {
	header  http.Header
	pw      *io.PipeWriter
	once    sync.Once
	headerc chan struct{} // closed when status and sent are set
	status  int
	sent    http.Header // the header as it was sent
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(status int) {
	w.once.Do(func() {
		w.status = status
		w.sent = w.header.Clone()
		w.sent.Del("Trailer")
		close(w.headerc)
	})
}

func (w *pipeWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(p)
}

// Flush does nothing: every Write reaches the reader as it is made.
func (w *pipeWriter) Flush() {}

// copyTrailers sets in t the values of the trailers the handler declared.
// It runs after the handler has returned, before the body ends.
func (w *pipeWriter) copyTrailers(t http.Header) {
	for _, names := range w.header.Values("Trailer") {
		for name := range strings.SplitSeq(names, ",") {
			name = http.CanonicalHeaderKey(strings.TrimSpace(name))
			if v := w.header.Values(name); len(v) > 0 {
				t[name] = v
			}
		}
	}
}

// A pipeBody is an in-process response's body.
type pipeBody struct {
	pr     *io.PipeReader
	cancel context.CancelFunc
	stop   func() bool
}

func (b *pipeBody) Read(p []byte) (int, error) { return b.pr.Read(p) }

func (b *pipeBody) Close() error {
	b.stop()
	b.pr.Close()
	b.cancel()
	return nil
}
