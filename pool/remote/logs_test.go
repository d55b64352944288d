package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/proctest"
	"github.com/ebbflow/ebb/pool"
)

// TestLogs streams a process's output over a real connection: following
// a stream returns what the process writes, as it writes it, until it
// exits; reading one afterwards returns all of it.
func TestLogs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, repo := localPool(t)
	c := dial(t, serveTLS(t, newServer(t, ServerConfig{Pool: p, Repository: repo})))
	a := acceptOne(t, ctx, c)
	// The process waits for the test to read its first line before it
	// writes the rest: the stream delivers output while the exec runs.
	fifo := t.TempDir() + "/go"
	e, err := a.Put(ctx, digest.FromString("logs"), pool.ExecConfig{
		Argv: []string{"sh", "-c", `echo one; mkfifo "$1"; read x < "$1"; echo two >&2; echo three`, "sh", fifo},
		Env:  []string{"PATH=/usr/bin:/bin"},
	})
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := e.Logs(ctx, pool.Stdout, true)
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	buf := make([]byte, 4)
	if _, err := io.ReadFull(stdout, buf); err != nil || string(buf) != "one\n" {
		t.Fatalf("first line followed = %q, %v; want %q", buf, err, "one\n")
	}
	if !proctest.Eventually(10*time.Second, func() bool { _, err := openWrite(fifo); return err == nil }) {
		t.Fatal("the exec never opened its fifo")
	}
	rest, err := io.ReadAll(stdout)
	if err != nil || string(rest) != "three\n" {
		t.Errorf("rest of stdout followed = %q, %v; want %q", rest, err, "three\n")
	}
	if r, err := e.Wait(ctx); err != nil || !r.OK() {
		t.Fatalf("Wait = %+v, %v", r, err)
	}
	for stream, want := range map[pool.Stream]string{pool.Stdout: "one\nthree\n", pool.Stderr: "two\n"} {
		for _, follow := range []bool{false, true} {
			rc, err := e.Logs(ctx, stream, follow)
			if err != nil {
				t.Fatalf("Logs(%v, follow %v): %v", stream, follow, err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || string(got) != want {
				t.Errorf("Logs(%v, follow %v) of a finished exec = %q, %v; want %q", stream, follow, got, err, want)
			}
		}
	}
	if _, err := e.Logs(ctx, pool.Stream(9), false); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("Logs of stream 9: %v, want ErrInvalid", err)
	}
	if err := a.Remove(ctx, e.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Logs(ctx, pool.Stdout, false); !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("Logs of a removed exec: %v, want ErrNotExist", err)
	}
}

// TestStreamTrailer checks that an error the server meets in the middle
// of a stream reaches the reader, by kind, at the end of the body.
func TestStreamTrailer(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(&Server{}).stream(w, r, io.MultiReader(
			stringReader("partial"),
			errReader{fmt.Errorf("disk gone: %w", ebb.ErrCorrupt)},
		), true)
	})
	for name, rt := range map[string]http.RoundTripper{"in-process": InProcess(h), "loopback": loopback(t, h)} {
		c, err := newClient(ClientConfig{URL: "http://x", Token: testToken, Transport: rt})
		if err != nil {
			t.Fatal(err)
		}
		req := &request{op: "stream", method: "GET", path: "/", stream: true}
		if err := c.do(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		r := &streamReader{op: "stream", resp: req.resp, cancel: req.cancel}
		got, err := io.ReadAll(r)
		r.Close()
		if string(got) != "partial" || !errors.Is(err, ebb.ErrCorrupt) {
			t.Errorf("%s: stream = %q, %v; want %q and the server's ErrCorrupt", name, got, err, "partial")
		}
	}
}

// TestLogsCancel follows the stream of an exec that never ends, over the
// network and in process, and cancels: Read fails with the context's
// error, and nothing is left running on either side (TestMain checks the
// goroutines).
func TestLogsCancel(t *testing.T) {
	s := newServer(t, ServerConfig{Pool: memPool(t)})
	for name, c := range map[string]*Client{"in-process": dialInProcess(t, s), "loopback": dial(t, serveHTTP(t, s))} {
		ctx, cancel := context.WithCancel(t.Context())
		a := acceptOne(t, ctx, c)
		e, err := a.Put(ctx, digest.FromString("forever"), pool.ExecConfig{Argv: []string{"sleep", "1000"}})
		if err != nil {
			t.Fatal(err)
		}
		rc, err := e.Logs(ctx, pool.Stdout, true)
		if err != nil {
			t.Fatal(err)
		}
		readc := make(chan error, 1)
		go func() {
			_, err := io.ReadAll(rc)
			readc <- err
		}()
		cancel()
		select {
		case err := <-readc:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s: Read of a followed stream once its context was cancelled: %v, want context.Canceled", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: Read did not return within 10s of the cancel", name)
		}
		rc.Close()
		if err := a.Free(t.Context()); err != nil {
			t.Errorf("%s: Free: %v", name, err)
		}
	}
}
