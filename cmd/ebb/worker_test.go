package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/proctest"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/remote"
	"github.com/ebbflow/ebb/repository"
)

const workerToken = "worker-test-token-0123456789"

// TestWorkerProcess is not a test: it is the worker process the other
// tests start, by running this test binary again with
// EBB_TEST_WORKER_PROCESS=1 and the worker's arguments after "--".
func TestWorkerProcess(t *testing.T) {
	if os.Getenv("EBB_TEST_WORKER_PROCESS") != "1" {
		t.Skip("the worker process of the worker tests")
	}
	args := os.Args[slices.Index(os.Args, "--")+1:]
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(mainCode(ctx, args, os.Stdout, os.Stderr))
}

// A workerProc is an ebb worker the test started.
type workerProc struct {
	cmd      *exec.Cmd
	url, pin string
	stderr   *syncBuffer
	exitc    chan struct{} // closed once it exited and was reaped
	err      error         // how it exited, after exitc
}

// startWorker starts `ebb worker args...` with the test token in its
// environment and waits for its listening line. The worker is killed,
// if need be, when t ends; then no child process may be left.
func startWorker(t *testing.T, args ...string) *workerProc {
	t.Helper()
	return startWorkerEnv(t, []string{"EBB_TOKEN=" + workerToken}, args...)
}

// startWorkerEnv is startWorker with env, instead of the test token,
// added to the worker's environment.
func startWorkerEnv(t *testing.T, env []string, args ...string) *workerProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestWorkerProcess$", "--", "worker"}, args...)...)
	cmd.Env = append(append(os.Environ(), "EBB_TEST_WORKER_PROCESS=1"), env...)
	w := &workerProc{cmd: cmd, stderr: new(syncBuffer), exitc: make(chan struct{})}
	cmd.Stderr = w.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	linec := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, _, ok := remote.ParseListening(sc.Text()); ok {
				linec <- sc.Text()
			}
		}
		close(linec)
		w.err = cmd.Wait()
		close(w.exitc)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-w.exitc
		if t.Failed() {
			t.Logf("worker stderr:\n%s", w.stderr)
		}
		checkNoChildren(t)
	})
	select {
	case line, ok := <-linec:
		if !ok {
			<-w.exitc
			t.Fatalf("worker exited (%v) before listening:\n%s", w.err, w.stderr)
		}
		w.url, w.pin, _ = remote.ParseListening(line)
	case <-time.After(30 * time.Second):
		t.Fatalf("no listening line within 30s:\n%s", w.stderr)
	}
	return w
}

// dial connects to w with short timeouts.
func (w *workerProc) dial(t *testing.T, ctx context.Context) *remote.Client {
	t.Helper()
	c, err := remote.Dial(ctx, w.client())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (w *workerProc) client() remote.ClientConfig {
	return remote.ClientConfig{URL: w.url, Token: workerToken, Pin: w.pin, Timeout: time.Second, WaitPoll: 5 * time.Second}
}

// exit waits up to d for the worker to exit and returns how it did.
func (w *workerProc) exit(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case <-w.exitc:
		return w.err
	case <-time.After(d):
		t.Fatalf("the worker did not exit within %v:\n%s", d, w.stderr)
		return nil
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// checkNoChildren fails t if this process has a child left.
func checkNoChildren(t *testing.T) {
	t.Helper()
	if pids := proctest.Children(); len(pids) > 0 {
		t.Errorf("child processes left: %v", pids)
	}
}

// processesWith returns the PIDs of the processes with marker as an
// argument, or at the end of one.
func processesWith(marker string) []string {
	var pids []string
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range cmdlines {
		if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte(marker+"\x00")) {
			pids = append(pids, filepath.Base(filepath.Dir(f)))
		}
	}
	return pids
}

// checkGoroutines fails t if goroutines started during the test are left
// when it ends (after polling for up to 10 s for them to finish).
func checkGoroutines(t *testing.T) {
	before := goroutineIDs()
	t.Cleanup(func() {
		var left []string
		proctest.Eventually(10*time.Second, func() bool {
			left = left[:0]
			for id, stack := range goroutineStacks() {
				if !before[id] && !strings.Contains(stack, "testing.tRunner") && !strings.Contains(stack, "checkGoroutines") {
					left = append(left, stack)
				}
			}
			return len(left) == 0
		})
		if len(left) > 0 {
			t.Errorf("goroutines left:\n%s", strings.Join(left, "\n\n"))
		}
	})
}

func goroutineIDs() map[string]bool {
	ids := make(map[string]bool)
	for id := range goroutineStacks() {
		ids[id] = true
	}
	return ids
}

func goroutineStacks() map[string]string {
	buf := make([]byte, 1<<20)
	out := make(map[string]string)
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		id, _, _ := strings.Cut(strings.TrimPrefix(g, "goroutine "), " ")
		out[id] = g
	}
	return out
}

func acceptCPU(t *testing.T, ctx context.Context, p pool.Pool) pool.Alloc {
	t.Helper()
	a, err := pool.Allocate(ctx, p, ebb.Requirements{Min: ebb.Resources{"cpu": 1}}, nil)
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	return a
}

// TestWorkerServes starts a worker, runs a task with an input and an
// output through it, and stops it with SIGTERM: it exits 0 and leaves
// nothing behind.
func TestWorkerServes(t *testing.T) {
	checkGoroutines(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	w := startWorker(t, "-resources", "cpu=2,mem=1GiB", "-dir", dir, "-id", "w1")
	if !strings.HasPrefix(w.url, "https://127.0.0.1:") || w.pin == "" {
		t.Errorf("listening on %q pin %q; want https on loopback with a pin", w.url, w.pin)
	}
	c := w.dial(t, ctx)
	if c.ID() != "w1" {
		t.Errorf("pool ID = %q, want the worker's -id w1", c.ID())
	}
	if caps, err := c.Capacity(ctx); err != nil || len(caps) != 1 || !caps[0].Equal(ebb.Resources{"cpu": 2, "mem": 1 << 30}) {
		t.Errorf("Capacity = %v, %v; want the -resources", caps, err)
	}
	in, err := c.Repository().Put(ctx, strings.NewReader("ebb\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := acceptCPU(t, ctx, c)
	e, err := a.Put(ctx, digest.FromString("rev"), pool.ExecConfig{
		Argv:    []string{"sh", "-c", "echo hi; tr a-z A-Z < in > out"},
		Env:     []string{"PATH=/usr/bin:/bin"},
		Inputs:  map[string]digest.Digest{"in": in},
		Outputs: []string{"out"},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.Wait(ctx)
	if err != nil || !r.OK() || r.Stdout != "hi\n" {
		t.Fatalf("Wait = %+v, %v; want success saying hi", r, err)
	}
	rc, err := c.Repository().Get(ctx, r.Outputs["out"])
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(out) != "EBB\n" {
		t.Errorf("output = %q, %v; want %q", out, err, "EBB\n")
	}

	w.cmd.Process.Signal(syscall.SIGTERM)
	if err := w.exit(t, 30*time.Second); err != nil {
		t.Errorf("worker exit after SIGTERM: %v, want status 0", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "pool", "allocs")); len(entries) != 0 {
		t.Errorf("allocs left in the worker's directory: %v", entries)
	}
}

// TestWorkerDrain sends SIGTERM to a worker running an exec: the driver's
// Wait learns that the exec is lost (ErrExpired), the exec's process is
// killed, the driver hears that the worker leaves, and the worker exits 0.
func TestWorkerDrain(t *testing.T) {
	checkGoroutines(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	announced := make(chan remote.Announcement, 4)
	reg, err := remote.NewRegistry(remote.RegistryConfig{
		Authorize: remote.TokenIs(workerToken),
		Announce: func(_ context.Context, a remote.Announcement) error {
			announced <- a
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	driver := httptest.NewTLSServer(reg)
	defer driver.Close()

	w := startWorker(t, "-driver", driver.URL, "-driver-pin", remote.Fingerprint(driver.Certificate().Raw), "-id", "drained")
	select {
	case a := <-announced:
		if a.ID != "drained" || a.URL != w.url || a.Pin != w.pin || a.State != remote.StateUp || a.Token != workerToken || a.Resources.IsZero() {
			t.Errorf("announcement = %+v; want the worker up at %s, pin %s, with its token and resources", a, w.url, w.pin)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no announcement within 30s")
	}
	c := w.dial(t, ctx)
	a := acceptCPU(t, ctx, c)
	marker := sleepMarker(4242)
	e, err := a.Put(ctx, digest.FromString("drain"), pool.ExecConfig{Argv: []string{"/bin/sleep", marker}})
	if err != nil {
		t.Fatal(err)
	}
	if !proctest.Eventually(10*time.Second, func() bool { return len(processesWith(marker)) > 0 }) {
		t.Fatal("the exec's process never started")
	}
	waited := make(chan error, 1)
	go func() {
		_, err := e.Wait(ctx)
		waited <- err
	}()

	w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-waited:
		if !errors.Is(err, ebb.ErrExpired) {
			t.Errorf("Wait of an exec running when its worker drained: %v, want ErrExpired", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Wait did not return within 30s of SIGTERM")
	}
	select {
	case a := <-announced:
		if a.State != remote.StateLeaving {
			t.Errorf("second announcement = %+v, want state %q", a, remote.StateLeaving)
		}
	case <-time.After(30 * time.Second):
		t.Error("no departure announced")
	}
	if err := w.exit(t, 30*time.Second); err != nil {
		t.Errorf("worker exit after SIGTERM: %v, want status 0", err)
	}
	if pids := processesWith(marker); len(pids) > 0 {
		t.Errorf("the exec's process outlived its worker: pids %v", pids)
	}
}

// TestWorkerLeaseTimeout starts a worker whose driver takes an alloc,
// keeps it alive for a while and then vanishes without freeing it: once
// the alloc's lease lapses and no lease was renewed for -lease-timeout,
// the worker stops by itself and exits 0, and its exec's process is gone.
func TestWorkerLeaseTimeout(t *testing.T) {
	checkGoroutines(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := startWorker(t, "-lease", "500ms", "-lease-timeout", "1s", "-no-tls")
	if !strings.HasPrefix(w.url, "http://") || w.pin != "" {
		t.Errorf("-no-tls: listening on %q pin %q; want plain http without a pin", w.url, w.pin)
	}
	c := w.dial(t, ctx)
	a := acceptCPU(t, ctx, c)
	marker := sleepMarker(4343)
	if _, err := a.Put(ctx, digest.FromString("orphan"), pool.ExecConfig{Argv: []string{"/bin/sleep", marker}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// The driver keeps the alloc for 1.5 s, longer than -lease-timeout:
	// the worker must not stop meanwhile.
	kctx, stop := context.WithTimeout(ctx, 1500*time.Millisecond)
	err := pool.Keepalive(kctx, a, pool.KeepaliveConfig{Lease: 500 * time.Millisecond})
	stop()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Keepalive: %v, want it to run until the driver vanished", err)
	}
	select {
	case <-w.exitc:
		t.Fatalf("the worker stopped after %v while its alloc was kept alive", time.Since(start))
	default:
	}
	if err := w.exit(t, 20*time.Second); err != nil {
		t.Errorf("worker exit: %v, want status 0", err)
	}
	// The lease lapses 0.5 s after the last renewal, and the worker stops
	// 1 s after that, looking every eighth of a second.
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("the worker stopped %v after the driver took the alloc, want at least 2s", d)
	}
	if pids := processesWith(marker); len(pids) > 0 {
		t.Errorf("the exec's process outlived its worker: pids %v", pids)
	}
}

// TestWorkerDriverBlobs starts a worker with -driver-blobs: it stages a
// task's input from the driver's repository and stores the output there,
// so the driver reads it without asking the worker.
func TestWorkerDriverBlobs(t *testing.T) {
	checkGoroutines(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, err := repository.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := remote.NewServer(remote.ServerConfig{Repository: store, Token: workerToken})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := remote.NewRegistry(remote.RegistryConfig{
		Authorize: remote.TokenIs(workerToken),
		Announce:  func(context.Context, remote.Announcement) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /v1/workers", reg)
	mux.Handle("/v1/blobs/", blobs)
	mux.Handle("/v1/blobs", blobs)
	driver := httptest.NewTLSServer(mux)
	defer driver.Close()

	in, err := store.Put(ctx, strings.NewReader("from the driver\n"))
	if err != nil {
		t.Fatal(err)
	}
	w := startWorker(t, "-driver", driver.URL, "-driver-pin", remote.Fingerprint(driver.Certificate().Raw), "-driver-blobs")
	c := w.dial(t, ctx)
	a := acceptCPU(t, ctx, c)
	e, err := a.Put(ctx, digest.FromString("copy"), pool.ExecConfig{
		Argv:    []string{"/bin/cp", "in", "out"},
		Inputs:  map[string]digest.Digest{"in": in},
		Outputs: []string{"out"},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.Wait(ctx)
	if err != nil || !r.OK() {
		t.Fatalf("Wait = %+v, %v", r, err)
	}
	if info, err := store.Stat(ctx, r.Outputs["out"]); err != nil || info.Size != int64(len("from the driver\n")) {
		t.Errorf("the output in the driver's repository: %+v, %v", info, err)
	}
	w.cmd.Process.Signal(syscall.SIGTERM)
	if err := w.exit(t, 30*time.Second); err != nil {
		t.Errorf("worker exit: %v", err)
	}
}

// writePEM writes cert and its key as PEM files in dir.
func writePEM(t *testing.T, dir, name string, cert tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestWorkerMutualTLS starts a worker with its own certificate and a
// client CA: a client presenting a certificate of that CA gets in, one
// presenting none is refused.
func TestWorkerMutualTLS(t *testing.T) {
	checkGoroutines(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	serverCert, err := remote.SelfSigned([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	clientCert, err := remote.SelfSigned([]string{"driver"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := writePEM(t, dir, "server", serverCert)
	caFile, _ := writePEM(t, dir, "client", clientCert)
	w := startWorker(t, "-tls-cert", certFile, "-tls-key", keyFile, "-client-ca", caFile)
	if w.pin != remote.Fingerprint(serverCert.Certificate[0]) {
		t.Errorf("pin %s, want the fingerprint of -tls-cert", w.pin)
	}
	cfg := w.client()
	cfg.TLS = &tls.Config{Certificates: []tls.Certificate{clientCert}}
	c, err := remote.Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("Dial with the trusted client certificate: %v", err)
	}
	c.Close()
	if _, err := remote.Dial(ctx, w.client()); !errors.Is(err, remote.ErrAuth) {
		t.Errorf("Dial without a client certificate: %v, want ErrAuth", err)
	}
	w.cmd.Process.Signal(syscall.SIGTERM)
	if err := w.exit(t, 30*time.Second); err != nil {
		t.Errorf("worker exit: %v", err)
	}
}

// TestWorkerFlags checks the flags that are refused before anything
// starts, and where the token comes from.
func TestWorkerFlags(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte(workerToken+"\n"), 0o600)
	for _, c := range []struct {
		name string
		args []string
		want error
	}{
		{"no token", nil, errUsage},
		{"two tokens", []string{"-token", workerToken, "-token-file", tokenFile}, errUsage},
		{"missing token file", []string{"-token-file", filepath.Join(dir, "none")}, os.ErrNotExist},
		{"cert without key", []string{"-token", workerToken, "-tls-cert", "c.pem"}, errUsage},
		{"no-tls with a client CA", []string{"-token", workerToken, "-no-tls", "-client-ca", "ca.pem"}, errUsage},
		{"zero lease timeout", []string{"-token", workerToken, "-lease-timeout", "0s"}, errUsage},
		{"driver pin over http", []string{"-token", workerToken, "-driver", "http://127.0.0.1:1", "-driver-pin", "sha256:" + strings.Repeat("a", 64)}, ebb.ErrInvalid},
		{"driver pin over HTTP", []string{"-token", workerToken, "-driver", "HTTP://127.0.0.1:1", "-driver-pin", "sha256:" + strings.Repeat("a", 64)}, errUsage},
		{"driver pin without a driver", []string{"-token", workerToken, "-driver-pin", "sha256:" + strings.Repeat("a", 64)}, errUsage},
		{"driver blobs without a driver", []string{"-token", workerToken, "-driver-blobs"}, errUsage},
		{"driver blobs and a repository", []string{"-token", workerToken, "-driver", "https://d", "-driver-blobs", "-repository", dir}, errUsage},
		{"arguments", []string{"-token", workerToken, "extra"}, errUsage},
		{"bad resources", []string{"-token", workerToken, "-resources", "cpu=lots"}, errUsage},
		{"short token", []string{"-token", "short", "-no-tls"}, ebb.ErrInvalid},
		{"bad id", []string{"-token-file", tokenFile, "-id", "a/b"}, ebb.ErrInvalid},
	} {
		var stdout, stderr bytes.Buffer
		err := workerCmd(context.Background(), c.args, &stdout, &stderr)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: worker %q: %v, want %v", c.name, c.args, err, c.want)
		}
		if stdout.Len() > 0 {
			t.Errorf("%s: printed %q, want no listening line", c.name, stdout.String())
		}
	}
	f := workerFlags{}
	if tok, err := f.readToken(envOf("EBB_TOKEN=" + workerToken)); err != nil || tok != workerToken {
		t.Errorf("token from $EBB_TOKEN = %q, %v", tok, err)
	}
	f.tokenFile = tokenFile
	if tok, err := f.readToken(envOf("EBB_TOKEN=other")); err != nil || tok != workerToken {
		t.Errorf("token from -token-file = %q, %v; want the file's, trimmed", tok, err)
	}
}

// sleepMarker returns a duration for sleep, distinct for each n and each
// test process, so that a test finds its own sleeping processes by their
// command line and no one else's.
func sleepMarker(n int) string { return fmt.Sprintf("%d.%d", 1000+n, os.Getpid()) }

// TestWorkerHidesToken runs a task that looks for the worker's token in
// its parent's (the worker's) /proc environ and cmdline: it finds none,
// whether the token came in $EBB_TOKEN or -token.
func TestWorkerHidesToken(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, c := range []struct {
		name string
		args []string
	}{
		{"env", nil},
		{"flag", []string{"-token", workerToken}},
		{"flag=", []string{"-token=" + workerToken}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			w := startWorker(t, append([]string{"-resources", "cpu=2,mem=1GiB", "-dir", t.TempDir()}, args...)...)
			c := w.dial(t, ctx)
			a := acceptCPU(t, ctx, c)
			e, err := a.Put(ctx, digest.FromString("peek"), pool.ExecConfig{
				Argv: []string{"sh", "-c", `
grep -q -a EBB_TEST_WORKER_PROCESS=1 /proc/$PPID/environ && echo read-environ
grep -q -a -- -resources /proc/$PPID/cmdline && echo read-cmdline
grep -q -a -- "$T" /proc/$PPID/environ && echo token-in-environ
grep -q -a -- "$T" /proc/$PPID/cmdline && echo token-in-cmdline
true`},
				Env: []string{"PATH=/usr/bin:/bin", "T=" + workerToken},
			})
			if err != nil {
				t.Fatal(err)
			}
			r, err := e.Wait(ctx)
			if want := "read-environ\nread-cmdline\n"; err != nil || !r.OK() || r.Stdout != want {
				t.Errorf("task reading the worker's /proc: %+v, %v; want stdout %q", r, err, want)
			}
		})
	}
}
