package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
)

// The quickstart runs its pipeline, and a second run finds it all in the
// cache.
func TestQuickstart(t *testing.T) {
	dir := t.TempDir()
	first := capture(t, func() error { return run(t.Context(), dir, 3, false) })
	for _, want := range []string{"5 tasks: 5 run, 0 found in the cache", "most common words:", "the\n"} {
		if !strings.Contains(first, want) {
			t.Errorf("first run does not say %q:\n%s", want, first)
		}
	}
	second := capture(t, func() error { return run(t.Context(), dir, 3, false) })
	if !strings.Contains(second, "5 tasks: 0 run, 1 found in the cache, 4 not needed") {
		t.Errorf("second run was not served from the cache:\n%s", second)
	}
	if err := run(t.Context(), dir, 0, false); err == nil {
		t.Error("-parts 0 accepted")
	}
}

// capture runs f with standard output going to a buffer.
func capture(t *testing.T, f func() error) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&buf, r); close(done) }()
	ferr := f()
	w.Close()
	os.Stdout = stdout
	<-done
	if ferr != nil {
		t.Fatalf("run: %v\n%s", ferr, buf.String())
	}
	return buf.String()
}
