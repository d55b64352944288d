package bootstrap_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/internal/proctest"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/remote"
	"github.com/ebbflow/ebb/repository"
	"github.com/opencontainers/go-digest"
)

var ebbBinary string

func TestMain(m *testing.M) { os.Exit(proctest.MainWithEbb(m, &ebbBinary)) }

var small = cluster.Shape{Name: "small", Resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 1 << 30}}

func newBootstrap(t *testing.T, cfg bootstrap.Config) *bootstrap.Bootstrap {
	t.Helper()
	if cfg.Command == nil {
		cfg.Command = []string{ebbBinary, "worker"}
	}
	if cfg.Grace == 0 {
		cfg.Grace = 5 * time.Second
	}
	cfg.Client = remote.ClientConfig{Timeout: 5 * time.Second, RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, WaitPoll: time.Second}
	b, err := bootstrap.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// start runs the expected worker as a child process, killed and reaped
// when t ends.
func start(t *testing.T, e *bootstrap.Expected) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(e.Argv[0], e.Argv[1:]...)
	cmd.Env = append(os.Environ(), e.Env...)
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	cmd.Args = append(cmd.Args, "-dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	return cmd
}

func TestWorkerAnnouncesAndServes(t *testing.T) {
	for _, noTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoTLS=%v", noTLS), func(t *testing.T) {
			b := newBootstrap(t, bootstrap.Config{NoTLS: noTLS})
			e, err := b.Expect("w1", small)
			if err != nil {
				t.Fatal(err)
			}
			token := e.Token()
			if slices.ContainsFunc(e.Argv, func(a string) bool { return strings.Contains(a, token) }) {
				t.Errorf("the token is on the command line: %q", e.Argv)
			}
			if !slices.Contains(e.Env, "EBB_TOKEN="+token) {
				t.Errorf("Env %q lacks the token", e.Env)
			}
			if (b.Pin() == "") != noTLS || (strings.HasPrefix(b.URL(), "https://") == noTLS) {
				t.Errorf("NoTLS %v: URL %s, pin %q", noTLS, b.URL(), b.Pin())
			}
			cmd := start(t, e)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c, err := e.Wait(ctx)
			if err != nil {
				t.Fatalf("Wait: %v", err)
			}
			defer c.Close()
			if a, ok := e.Announced(); !ok || a.ID != "w1" || !a.Resources.Equal(small.Resources) {
				t.Errorf("Announced = %+v, %v", a, ok)
			}
			caps, err := c.Capacity(ctx)
			if err != nil || len(caps) != 1 || !caps[0].Equal(small.Resources) {
				t.Fatalf("Capacity = %v, %v; want %s", caps, err, small.Resources)
			}
			a, err := pool.Allocate(ctx, c, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, ebb.Labels{"run": "test"})
			if err != nil {
				t.Fatalf("Allocate: %v", err)
			}
			x, err := a.Put(ctx, digest.FromString("echo"), pool.ExecConfig{Argv: []string{"/bin/echo", "hi"}, Resources: ebb.Resources{ebb.CPU: 1}})
			if err != nil {
				t.Fatal(err)
			}
			if res, err := x.Wait(ctx); err != nil || res.Error != "" || res.ExitCode != 0 {
				t.Fatalf("Wait = %+v, %v", res, err)
			}

			// SIGTERM: the worker drains, says it leaves, and its alloc is
			// lost at once.
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-e.Gone():
			case <-ctx.Done():
				t.Fatal("the worker never announced that it leaves")
			}
			if _, err := a.Keepalive(ctx, time.Minute); !errors.Is(err, ebb.ErrExpired) {
				t.Errorf("Keepalive after the worker left = %v, want ErrExpired", err)
			}
		})
	}
}

func TestAnnouncementsNeedTheWorkersToken(t *testing.T) {
	b := newBootstrap(t, bootstrap.Config{NoTLS: true})
	e1, err := b.Expect("w1", small)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := b.Expect("w2", small)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a := remote.Announcement{ID: "w1", URL: "http://127.0.0.1:1", Resources: small.Resources, State: remote.StateUp}
	client := func(token string) remote.ClientConfig {
		return remote.ClientConfig{URL: b.URL(), Token: token, Timeout: 5 * time.Second}
	}
	if err := remote.Announce(ctx, client(remote.NewToken()), a); !errors.Is(err, remote.ErrAuth) {
		t.Errorf("announcing with an unknown token = %v, want ErrAuth", err)
	}
	// w2's token does not announce w1.
	if err := remote.Announce(ctx, client(e2.Token()), a); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("announcing w1 with w2's token = %v, want ErrInvalid", err)
	}
	// More than the shape is refused.
	big := a
	big.Resources = ebb.Resources{ebb.CPU: 64}
	if err := remote.Announce(ctx, client(e1.Token()), big); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("announcing more than the shape = %v, want ErrInvalid", err)
	}
	if _, ok := e1.Announced(); ok {
		t.Fatal("w1 counts as announced after refused announcements")
	}
	// A forgotten worker's token is refused.
	b.Forget("w2")
	if err := remote.Announce(ctx, client(e2.Token()), remote.Announcement{ID: "w2", URL: "http://127.0.0.1:1", State: remote.StateUp}); !errors.Is(err, remote.ErrAuth) {
		t.Errorf("announcing a forgotten worker = %v, want ErrAuth", err)
	}
	if _, err := e2.Wait(ctx); !errors.Is(err, ebb.ErrUnavailable) {
		t.Errorf("Wait of a forgotten worker = %v, want ErrUnavailable", err)
	}
	// The right token announces; nothing answers at the URL, so Wait
	// reports the worker unavailable.
	if err := remote.Announce(ctx, client(e1.Token()), a); err != nil {
		t.Fatalf("announcing w1 with its token: %v", err)
	}
	if got, ok := e1.Announced(); !ok || got.URL != a.URL {
		t.Errorf("Announced = %+v, %v", got, ok)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := e1.Wait(wctx); !errors.Is(err, ebb.ErrUnavailable) {
		t.Errorf("Wait with nothing at the URL = %v, want ErrUnavailable", err)
	}
}

func TestWaitEndsWithContext(t *testing.T) {
	b := newBootstrap(t, bootstrap.Config{NoTLS: true})
	e, err := b.Expect("w1", small)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait = %v, want context.Canceled", err)
	}
}

func TestExpectRefuses(t *testing.T) {
	b := newBootstrap(t, bootstrap.Config{NoTLS: true})
	if _, err := b.Expect("w1", small); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id    cluster.WorkerID
		shape cluster.Shape
	}{
		{"w1", small},  // twice
		{"", small},    // empty
		{"a/b", small}, // a slash
		{"w2", cluster.Shape{Name: "none"}},
	} {
		if _, err := b.Expect(tc.id, tc.shape); !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("Expect(%q, %v) = %v, want ErrInvalid", tc.id, tc.shape, err)
		}
	}
	b.Close()
	if _, err := b.Expect("w3", small); !errors.Is(err, ebb.ErrClosed) {
		t.Errorf("Expect after Close = %v, want ErrClosed", err)
	}
}

func TestConfigRefused(t *testing.T) {
	for _, cfg := range []bootstrap.Config{
		{},
		{Command: []string{""}},
		{Command: []string{"ebb"}, WorkerListen: "nonsense"},
		{Command: []string{"ebb"}, LeaseTimeout: -time.Second},
		{Command: []string{"ebb"}, Grace: -time.Second},
	} {
		if b, err := bootstrap.New(cfg); !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("New(%+v) = %v, want ErrInvalid", cfg, err)
			if b != nil {
				b.Close()
			}
		}
	}
}

func TestArgv(t *testing.T) {
	b := newBootstrap(t, bootstrap.Config{Repository: "/shared/repo", WorkerListen: ":0", LeaseTimeout: time.Minute})
	e, err := b.Expect("job-7", small)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(e.Argv[1:], " ")
	want := fmt.Sprintf("worker -id job-7 -listen :0 -resources %s -lease-timeout 1m0s -grace 5s -driver %s -driver-pin %s -repository /shared/repo",
		small.Resources.Format(), b.URL(), b.Pin())
	if got != want {
		t.Errorf("Argv:\n got %s\nwant %s", got, want)
	}
}

// With Blobs, a worker stages its exec's input from the driver's
// repository and stores the output there, over the protocol, with its
// own token; no other token reads the driver's blobs.
func TestDriverBlobs(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	store, err := repository.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	in, err := store.Put(ctx, strings.NewReader("from the driver\n"))
	if err != nil {
		t.Fatal(err)
	}
	b := newBootstrap(t, bootstrap.Config{Blobs: store})
	e, err := b.Expect("w1", small)
	if err != nil {
		t.Fatal(err)
	}
	start(t, e)
	c, err := e.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, err := pool.Allocate(ctx, c, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	x, err := a.Put(ctx, digest.FromString("tr"), pool.ExecConfig{
		Argv:    []string{"/bin/sh", "-c", "tr a-z A-Z < in > out"},
		Inputs:  map[string]digest.Digest{"in": in},
		Outputs: []string{"out"},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := x.Wait(ctx)
	if err != nil || !r.OK() {
		t.Fatalf("Wait = %+v, %v", r, err)
	}
	rc, err := store.Get(ctx, r.Outputs["out"])
	if err != nil {
		t.Fatalf("the output is not in the driver's repository: %v", err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "FROM THE DRIVER\n" {
		t.Errorf("output %q", got)
	}

	// Another token does not read the driver's blobs.
	pin := b.Pin()
	stranger, err := remote.NewRepository(remote.ClientConfig{URL: b.URL(), Token: remote.NewToken(), Pin: pin, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	if _, err := stranger.Get(ctx, in); !errors.Is(err, remote.ErrAuth) {
		t.Errorf("Get with a stranger's token = %v, want ErrAuth", err)
	}
	if _, err := bootstrap.New(bootstrap.Config{Command: []string{"ebb"}, Blobs: store, Repository: "/x"}); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("New with Blobs and Repository = %v, want ErrInvalid", err)
	}
}
