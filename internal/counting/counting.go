// Package counting counts the bytes that pass through a reader or an
// http.ResponseWriter, for the figures of what crossed a network.
package counting

import (
	"io"
	"net/http"
	"sync/atomic"
)

// ReadCloser adds to N the bytes each Read returns. N is shared: many
// ReadClosers may count into one total at once.
type ReadCloser struct {
	io.ReadCloser
	N *atomic.Int64
}

func (r ReadCloser) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.N.Add(int64(n))
	return n, err
}

// ResponseWriter adds to N the bytes of the body written through it.
type ResponseWriter struct {
	http.ResponseWriter
	N *atomic.Int64
}

func (w ResponseWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.N.Add(int64(n))
	return n, err
}

// Unwrap lets http.ResponseController reach the writer beneath.
func (w ResponseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
