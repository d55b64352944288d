package procs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/internal/proctest"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/remote"
)

// up launches a worker of the small shape and returns it with its
// process.
func up(t *testing.T, ctx context.Context, p *Provider) (cluster.Worker, *proc) {
	t.Helper()
	w, err := p.Launch(ctx, p.Shapes()[0], ebb.Labels{"test": t.Name()[:min(len(t.Name()), 60)]})
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	p.mu.Lock()
	pr := p.workers[w.ID]
	p.mu.Unlock()
	return w, pr
}

// processesWith returns the PIDs of the processes with marker as an
// argument, or at the end of one.
func processesWith(marker string) []string {
	var pids []string
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range cmdlines {
		if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), marker+"\x00") {
			pids = append(pids, filepath.Base(filepath.Dir(f)))
		}
	}
	return pids
}

// running puts an exec that sleeps until killed in a fresh alloc of w,
// and returns them once its process runs.
func running(t *testing.T, ctx context.Context, w cluster.Worker, marker string) (pool.Alloc, pool.Exec) {
	t.Helper()
	a, err := pool.Allocate(ctx, w.Pool, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, nil)
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	e, err := a.Put(ctx, digest.FromString(marker), pool.ExecConfig{Argv: []string{"/bin/sleep", marker}})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if !proctest.Eventually(10*time.Second, func() bool { return len(processesWith(marker)) > 0 }) {
		t.Fatal("the exec's process never started")
	}
	return a, e
}

type result struct {
	err error
	at  time.Time
}

// keepalive runs pool.Keepalive on a in a goroutine, and returns once a
// renewal after the first went through.
func keepalive(t *testing.T, ctx context.Context, a pool.Alloc, lease time.Duration) <-chan result {
	t.Helper()
	c := make(chan result, 1)
	start := time.Now()
	go func() {
		err := pool.Keepalive(ctx, a, pool.KeepaliveConfig{Lease: lease, MinWait: 100 * time.Millisecond})
		c <- result{err, time.Now()}
	}()
	renewed := func() bool {
		in, err := a.Inspect(ctx)
		return err == nil && in.LastKeepalive.After(start.Add(lease/4))
	}
	if !proctest.Eventually(10*time.Second, renewed) {
		t.Fatal("Keepalive renewed nothing within 10s")
	}
	return c
}

func wait(ctx context.Context, e pool.Exec) <-chan result {
	c := make(chan result, 1)
	go func() {
		_, err := e.Wait(ctx)
		c <- result{err, time.Now()}
	}()
	return c
}

func within(t *testing.T, what string, c <-chan result, d time.Duration) result {
	t.Helper()
	select {
	case r := <-c:
		return r
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
		return result{}
	}
}

// TestKilledWorker kills a worker with SIGKILL while it runs an exec:
// the exec's Wait fails at once with ErrExpired through the provider's
// client (which knows the process is gone), and with ErrUnavailable
// through a plain client; Keepalive reports the alloc lost within two
// renewal intervals; the worker leaves Workers, and its exec's process
// dies with it.
func TestKilledWorker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const lease = 2 * time.Second
	p := newProvider(t, Config{Client: remote.ClientConfig{Timeout: 500 * time.Millisecond, WaitPoll: 5 * time.Second}})
	w, pr := up(t, ctx, p)
	marker := sleepMarker(5151)
	a, e := running(t, ctx, w, marker)
	plain, err := remote.Dial(ctx, remote.ClientConfig{URL: pr.client.URL(), Token: pr.token, Pin: pr.client.Pin(), Timeout: 500 * time.Millisecond, WaitPoll: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	pa, err := plain.Alloc(ctx, a.ID())
	if err != nil {
		t.Fatal(err)
	}
	pe, err := pa.Exec(ctx, e.ID())
	if err != nil {
		t.Fatal(err)
	}
	kctx, stop := context.WithCancel(ctx)
	defer stop()
	kept := keepalive(t, kctx, a, lease)
	waited, plainWaited := wait(ctx, e), wait(ctx, pe)

	killed := time.Now()
	syscall.Kill(pr.cmd.Process.Pid, syscall.SIGKILL)
	if r := within(t, "Wait", waited, 10*time.Second); !errors.Is(r.err, ebb.ErrExpired) {
		t.Errorf("Wait through the provider's client: %v, want ErrExpired", r.err)
	}
	if r := within(t, "Wait of a plain client", plainWaited, 10*time.Second); !errors.Is(r.err, ebb.ErrUnavailable) {
		t.Errorf("Wait through a plain client: %v, want ErrUnavailable", r.err)
	}
	r := within(t, "Keepalive", kept, 10*time.Second)
	if !errors.Is(r.err, ebb.ErrExpired) {
		t.Errorf("Keepalive of an alloc on a killed worker: %v, want ErrExpired", r.err)
	}
	if d := r.at.Sub(killed); d > lease {
		t.Errorf("Keepalive reported the alloc lost %v after the kill, want within two renewal intervals (%v)", d, lease)
	}
	if ws, err := p.Workers(ctx); err != nil || len(ws) != 0 {
		t.Errorf("Workers after the kill = %v, %v; want none", ws, err)
	}
	if !proctest.Eventually(10*time.Second, func() bool { return len(processesWith(marker)) == 0 }) {
		t.Errorf("the exec's process outlived its worker: %v", processesWith(marker))
	}
	if err := p.Terminate(ctx, w.ID); err != nil {
		t.Errorf("Terminate of a killed worker: %v, want nil", err)
	}
}

// TestFrozenWorker stops a worker with SIGSTOP: it still holds its
// connections but answers nothing. The client's Keepalive reports the
// alloc lost within two renewal intervals plus one call's timeout; then
// the worker is thawed and terminated.
func TestFrozenWorker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const lease, timeout = 2 * time.Second, 500 * time.Millisecond
	p := newProvider(t, Config{Client: remote.ClientConfig{Timeout: timeout, WaitPoll: 5 * time.Second}})
	w, pr := up(t, ctx, p)
	marker := sleepMarker(5252)
	a, _ := running(t, ctx, w, marker)
	kctx, stop := context.WithCancel(ctx)
	defer stop()
	kept := keepalive(t, kctx, a, lease)

	frozen := time.Now()
	syscall.Kill(pr.cmd.Process.Pid, syscall.SIGSTOP)
	defer syscall.Kill(pr.cmd.Process.Pid, syscall.SIGCONT)
	r := within(t, "Keepalive", kept, 10*time.Second)
	if !errors.Is(r.err, ebb.ErrExpired) {
		t.Errorf("Keepalive of an alloc on a frozen worker: %v, want ErrExpired", r.err)
	}
	if d := r.at.Sub(frozen); d > lease+timeout {
		t.Errorf("Keepalive reported the alloc lost %v after the freeze, want within two renewal intervals and a timeout (%v)", d, lease+timeout)
	}
	syscall.Kill(pr.cmd.Process.Pid, syscall.SIGCONT)
	if err := p.Terminate(ctx, w.ID); err != nil {
		t.Errorf("Terminate: %v", err)
	}
	if pids := processesWith(marker); len(pids) > 0 {
		t.Errorf("the exec's process outlived its worker: %v", pids)
	}
}

// TestTerminateDrains terminates a worker running an exec: the exec's
// Wait fails with ErrExpired, and the worker exits with status 0 within
// the grace period, leaving nothing.
func TestTerminateDrains(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := newProvider(t, Config{})
	w, pr := up(t, ctx, p)
	marker := sleepMarker(5353)
	_, e := running(t, ctx, w, marker)
	waited := wait(ctx, e)
	start := time.Now()
	if err := p.Terminate(ctx, w.ID); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	if d := time.Since(start); d >= p.cfg.Grace {
		t.Errorf("Terminate took %v, the whole grace period: the worker did not drain by itself", d)
	}
	if pr.waitErr != nil {
		t.Errorf("the worker exited with %v, want status 0", pr.waitErr)
	}
	if r := within(t, "Wait", waited, 10*time.Second); !errors.Is(r.err, ebb.ErrExpired) {
		t.Errorf("Wait of an exec whose worker was terminated: %v, want ErrExpired", r.err)
	}
	if pids := processesWith(marker); len(pids) > 0 {
		t.Errorf("the exec's process outlived its worker: %v", pids)
	}
	if _, err := os.Stat(pr.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the worker's directory %s is left: %v", pr.dir, err)
	}
	if ws, _ := p.Workers(ctx); slices.ContainsFunc(ws, func(x cluster.Worker) bool { return x.ID == w.ID }) {
		t.Error("Workers lists the terminated worker")
	}
}
