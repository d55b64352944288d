package command

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/clustertest"
	"github.com/ebbflow/ebb/internal/proctest"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

func TestConformance(t *testing.T) {
	clustertest.RunProvider(t, clustertest.SuiteConfig{
		New: func(t *testing.T) cluster.Provider {
			state := t.TempDir()
			cfg := scripts(t, state)
			cfg.Dir = filepath.Join(state, "records")
			return newProvider(t, cfg, state)
		},
		Again: func(t *testing.T, p cluster.Provider) cluster.Provider {
			cfg := p.(*Provider).cfg
			return newProvider(t, cfg, filepath.Dir(cfg.Dir))
		},
		Timeout: 2 * time.Minute,
	})
}

func TestWorkerRunsAnExec(t *testing.T) {
	state := t.TempDir()
	p := newProvider(t, scripts(t, state), state)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	w, err := p.Launch(ctx, testShapes()[0], ebb.Labels{"run": "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(state, string(w.ID)+".pid")); err != nil {
		t.Fatalf("the start script left no pid file: %v", err)
	} else if pw := p.workers[w.ID]; pw.handle != "pid-"+strings.TrimSpace(string(b)) {
		t.Errorf("handle %q, want pid-%s (Start's first line)", pw.handle, b)
	}
	a, err := pool.Allocate(ctx, w.Pool, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	x, err := a.Put(ctx, digest.FromString("echo"), pool.ExecConfig{Argv: []string{"/bin/echo", "hi"}, Resources: ebb.Resources{ebb.CPU: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := x.Wait(ctx); err != nil || res.ExitCode != 0 {
		t.Fatalf("Wait = %+v, %v", res, err)
	}
	if err := p.Terminate(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Keepalive(ctx, time.Minute); !errors.Is(err, ebb.ErrExpired) {
		t.Errorf("Keepalive on a terminated worker = %v, want ErrExpired", err)
	}
	if err := p.Terminate(ctx, w.ID); err != nil {
		t.Errorf("Terminate again = %v, want nil", err)
	}
}

func TestLostWorker(t *testing.T) {
	state := t.TempDir()
	p := newProvider(t, scripts(t, state), state)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	w, err := p.Launch(ctx, testShapes()[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := pool.Allocate(ctx, w.Pool, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(state, string(w.ID)+".pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	syscall.Kill(pid, syscall.SIGKILL)

	// List no longer shows it: the alloc is lost, and the worker gone
	// from Workers.
	if !proctest.Eventually(30*time.Second, func() bool {
		_, err := a.Keepalive(ctx, time.Minute)
		return errors.Is(err, ebb.ErrExpired)
	}) {
		t.Fatal("the alloc of a killed worker never expired")
	}
	if ws, err := p.Workers(ctx); err != nil || len(ws) != 0 {
		t.Errorf("Workers = %v, %v; want none", ws, err)
	}
}

func TestStartFails(t *testing.T) {
	state := t.TempDir()
	cfg := scripts(t, state)
	cfg.Start = []string{"/bin/sh", "-c", `echo "no capacity in queue $1" >&2; exit 3`, "start", "{{.Shape.Name}}"}
	cfg.Stop = []string{"/bin/sh", "-c", `echo "$1" >>"$2"`, "stop", "{{.ID}}", filepath.Join(state, "stopped")}
	p := newProvider(t, cfg, state)
	_, err := p.Launch(t.Context(), testShapes()[0], nil)
	if !errors.Is(err, ebb.ErrUnavailable) || !strings.Contains(err.Error(), "no capacity in queue small") || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("Launch = %v, want ErrUnavailable with the exit status and stderr", err)
	}
	// Stop ran for the worker that failed to start.
	if b, err := os.ReadFile(filepath.Join(state, "stopped")); err != nil || !strings.HasPrefix(string(b), "ebb-") {
		t.Errorf("Stop did not run after the failed Start: %q, %v", b, err)
	}
}

func TestCommandsTimeOut(t *testing.T) {
	state := t.TempDir()
	cfg := scripts(t, state)
	cfg.Start = []string{"/bin/sh", "-c", "sleep 300 & sleep 300", "start", state}
	cfg.Timeout = 200 * time.Millisecond
	p := newProvider(t, cfg, state)
	_, err := p.Launch(t.Context(), testShapes()[0], nil)
	if !errors.Is(err, ebb.ErrUnavailable) || !strings.Contains(err.Error(), "killed after 200ms") {
		t.Fatalf("Launch = %v, want ErrUnavailable, killed after 200ms", err)
	}
	// The command's whole process group was killed.
	if !proctest.Eventually(5*time.Second, func() bool { return len(running("sleep 300")) == 0 }) {
		t.Errorf("a hung command's processes are left: %v", running("sleep 300"))
	}
}

func TestWorkerThatNeverAnnounces(t *testing.T) {
	state := t.TempDir()
	cfg := scripts(t, state)
	cfg.Start = []string{"/bin/true"}
	cfg.StartTimeout = 100 * time.Millisecond
	p := newProvider(t, cfg, state)
	_, err := p.Launch(t.Context(), testShapes()[0], nil)
	if !errors.Is(err, ebb.ErrUnavailable) || !strings.Contains(err.Error(), "did not announce itself") {
		t.Fatalf("Launch = %v, want ErrUnavailable: did not announce itself", err)
	}
}

func TestLaunchCancelled(t *testing.T) {
	state := t.TempDir()
	cfg := scripts(t, state)
	cfg.StartTimeout = time.Hour
	// The worker starts, but never reaches the driver.
	cfg.Start = append(cfg.Start, "-driver", "http://127.0.0.1:1")
	p := newProvider(t, cfg, state)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		// Cancel once the worker process is up.
		proctest.Eventually(time.Minute, func() bool { return len(running(state+"/ebb-")) > 0 })
		cancel()
	}()
	if _, err := p.Launch(ctx, testShapes()[0], nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Launch = %v, want context.Canceled", err)
	}
	checkNoWorkers(t, state)
}

func TestMaxWorkers(t *testing.T) {
	state := t.TempDir()
	cfg := scripts(t, state)
	cfg.MaxWorkers = 1
	p := newProvider(t, cfg, state)
	ctx := t.Context()
	if _, err := p.Launch(ctx, testShapes()[0], nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Launch(ctx, testShapes()[0], nil); !errors.Is(err, ebb.ErrUnavailable) {
		t.Fatalf("Launch beyond MaxWorkers = %v, want ErrUnavailable", err)
	}
}

func TestEarlierDriversWorkersStopped(t *testing.T) {
	state := t.TempDir()
	cfg := scripts(t, state)
	cfg.Name = "site"
	first := newProvider(t, cfg, state)
	w, err := first.Launch(t.Context(), testShapes()[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	// Another driver's worker, under another name, is not touched.
	other := cfg
	other.Name = "elsewhere"
	keep, err := newProvider(t, other, state).Launch(t.Context(), testShapes()[0], nil)
	if err != nil {
		t.Fatal(err)
	}

	// A second driver with the first's name, as after a crash: the
	// first's worker cannot be adopted, so New stops it.
	newProvider(t, cfg, state)
	listed, err := first.list(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if listed[w.ID] || !listed[keep.ID] {
		t.Errorf("after New: List shows %v; want %s stopped and %s kept", listed, w.ID, keep.ID)
	}
}

func TestConfigRefused(t *testing.T) {
	base := func() Config {
		return Config{
			Start: []string{"start", "{{.ID}}"}, Stop: []string{"stop", "{{.ID}}"},
			Shapes: testShapes(), Bootstrap: scripts(t, "/x").Bootstrap,
		}
	}
	for name, change := range map[string]func(*Config){
		"no start":      func(c *Config) { c.Start = nil },
		"no stop":       func(c *Config) { c.Stop = nil },
		"no program":    func(c *Config) { c.List = []string{"{{.Worker}}"} },
		"bad template":  func(c *Config) { c.Start = []string{"start", "{{.ID"} },
		"unknown field": func(c *Config) { c.Stop = []string{"stop", "{{.Nope}}"} },
		"no shapes":     func(c *Config) { c.Shapes = nil },
		"twice a shape": func(c *Config) { c.Shapes = append(testShapes(), testShapes()[0]) },
		"bad name":      func(c *Config) { c.Name = "1st" },
		"slash in name": func(c *Config) { c.Name = "a/b" },
		"timeout":       func(c *Config) { c.Timeout = -1 },
		"max workers":   func(c *Config) { c.MaxWorkers = -1 },
		"no worker":     func(c *Config) { c.Bootstrap.Command = nil },
	} {
		cfg := base()
		change(&cfg)
		p, err := New(t.Context(), cfg)
		if !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("%s: New = %v, want ErrInvalid", name, err)
		}
		if p != nil {
			p.Close(t.Context())
		}
	}
}
