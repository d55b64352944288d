package counting

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestCounts(t *testing.T) {
	var n atomic.Int64
	r := ReadCloser{io.NopCloser(strings.NewReader("twelve bytes")), &n}
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	w := ResponseWriter{rec, &n}
	io.WriteString(w, "and seven")
	if n.Load() != 21 {
		t.Errorf("counted %d bytes, want 21", n.Load())
	}
	if http.NewResponseController(w).Flush() != nil {
		t.Error("the writer beneath is not reached")
	}
}
