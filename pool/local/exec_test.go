package local

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

func TestPutIdempotent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPool(t, Config{})
		a := accept(t, p, nil)
		var runs atomic.Int32
		release := make(chan struct{})
		cfg := pool.ExecConfig{Func: func(ctx context.Context, _ ebb.FuncEnv) error {
			runs.Add(1)
			<-release
			return nil
		}}
		e1 := put(t, a, "task", cfg)
		// While running, and whatever the second config says.
		e2 := put(t, a, "task", pool.ExecConfig{Argv: []string{"false"}})
		close(release)
		wait(t, e1)
		// And once ended.
		e3 := put(t, a, "task", cfg)
		synctest.Wait()
		if e1 != e2 || e1 != e3 {
			t.Errorf("Put of one ID three times gave execs %p, %p, %p; want one", e1, e2, e3)
		}
		if got := runs.Load(); got != 1 {
			t.Errorf("func ran %d times, want 1", got)
		}
		// Many at once.
		var wg sync.WaitGroup
		execs := make([]pool.Exec, 20)
		for i := range execs {
			wg.Go(func() { execs[i], _ = a.Put(ctx, id("racy"), cfg) })
		}
		wg.Wait()
		synctest.Wait()
		for _, e := range execs {
			if e != execs[0] {
				t.Fatalf("concurrent Puts of one ID gave different execs")
			}
		}
		if got := runs.Load(); got != 2 {
			t.Errorf("func ran %d times after 20 concurrent Puts of a new ID, want 2 in all", got)
		}
	})
}

func TestPutResources(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPool(t, Config{})
		a := accept(t, p, ebb.Resources{ebb.CPU: 2, ebb.Mem: 1 << 30})
		big := pool.ExecConfig{Func: blockFunc, Resources: ebb.Resources{ebb.CPU: 3}}
		if _, err := a.Put(ctx, id("big"), big); !errors.Is(err, ebb.ErrResources) {
			t.Errorf("Put of an exec bigger than its alloc: %v, want ErrResources", err)
		}
		gpu := pool.ExecConfig{Func: blockFunc, Resources: ebb.Resources{ebb.GPU: 1}}
		if _, err := a.Put(ctx, id("gpu"), gpu); !errors.Is(err, ebb.ErrResources) {
			t.Errorf("Put of an exec needing a key its alloc lacks: %v, want ErrResources", err)
		}
		half := ebb.Resources{ebb.CPU: 1, ebb.Mem: 512 << 20}
		e1 := put(t, a, "one", pool.ExecConfig{Func: blockFunc, Resources: half})
		put(t, a, "two", pool.ExecConfig{Func: blockFunc, Resources: half})
		in, _ := a.Inspect(ctx)
		if !in.Busy.Equal(a.Resources()) || in.Running != 2 {
			t.Errorf("Inspect with two execs running = busy %s, running %d; want %s, 2", in.Busy, in.Running, a.Resources())
		}
		if _, err := a.Put(ctx, id("three"), pool.ExecConfig{Func: blockFunc, Resources: ebb.Resources{ebb.CPU: 0.5}}); !errors.Is(err, ebb.ErrResources) {
			t.Errorf("Put into a full alloc: %v, want ErrResources", err)
		}
		// Execs without resources always fit.
		put(t, a, "free", pool.ExecConfig{Func: blockFunc})
		e1.Kill(ctx)
		wait(t, e1)
		in, _ = a.Inspect(ctx)
		if !in.Busy.Equal(half) || in.Running != 2 {
			t.Errorf("Inspect after one exec ended = busy %s, running %d; want %s, 2", in.Busy, in.Running, half)
		}
		put(t, a, "three", pool.ExecConfig{Func: blockFunc, Resources: half})
	})
}

func TestPutInvalid(t *testing.T) {
	ctx := context.Background()
	p := newPool(t, Config{}) // no repository
	a := accept(t, p, nil)
	good := id("good")
	for _, tc := range []struct {
		name    string
		id      pool.ExecID
		cfg     pool.ExecConfig
		mention string
	}{
		{"empty argv", good, pool.ExecConfig{}, "argv"},
		{"empty argv[0]", good, pool.ExecConfig{Argv: []string{""}}, "argv[0]"},
		{"argv and func", good, pool.ExecConfig{Argv: []string{"true"}, Func: blockFunc}, "both argv"},
		{"env entry without =", good, pool.ExecConfig{Argv: []string{"true"}, Env: []string{"PATH"}}, `env entry "PATH"`},
		{"env entry without key", good, pool.ExecConfig{Argv: []string{"true"}, Env: []string{"=x"}}, `env entry "=x"`},
		{"NaN resources", good, pool.ExecConfig{Func: blockFunc, Resources: ebb.Resources{ebb.CPU: math.NaN()}}, "cpu=NaN"},
		{"negative resources", good, pool.ExecConfig{Func: blockFunc, Resources: ebb.Resources{ebb.Mem: -1}}, "mem=-1"},
		{"bad resource key", good, pool.ExecConfig{Func: blockFunc, Resources: ebb.Resources{"CPU": 1}}, `"CPU"`},
		{"absolute output", good, pool.ExecConfig{Func: blockFunc, Outputs: []string{"/etc/passwd"}}, `output "/etc/passwd"`},
		{"escaping output", good, pool.ExecConfig{Func: blockFunc, Outputs: []string{"../x"}}, `output "../x"`},
		{"bad input digest", good, pool.ExecConfig{Func: blockFunc, Inputs: map[string]digest.Digest{"in": "sha256:nothex"}}, `input "in"`},
		{"empty id", "", pool.ExecConfig{Func: blockFunc}, "exec id"},
		{"malformed id", "sha256:abc", pool.ExecConfig{Func: blockFunc}, `exec id "sha256:abc"`},
		{"upper-case id", pool.ExecID(strings.ToUpper(string(good))), pool.ExecConfig{Func: blockFunc}, "exec id"},
		{"inputs without repository", good, pool.ExecConfig{Func: blockFunc, Inputs: map[string]digest.Digest{"in": id("x")}}, "Config.Repository"},
		{"outputs without repository", good, pool.ExecConfig{Func: blockFunc, Outputs: []string{"out"}}, "Config.Repository"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := a.Put(ctx, tc.id, tc.cfg)
			if !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("Put = %v, %v; want ErrInvalid mentioning %q", e, err, tc.mention)
			}
		})
	}
	if execs, _ := a.Execs(ctx); len(execs) != 0 {
		t.Errorf("alloc has %d execs after bad Puts, want 0", len(execs))
	}
}

func TestFuncResults(t *testing.T) {
	p := newPool(t, Config{})
	a := accept(t, p, nil)
	for _, tc := range []struct {
		name      string
		fn        ebb.Func
		wantCode  int
		wantError string
		stderr    string
		transient bool
	}{
		{"nil", func(context.Context, ebb.FuncEnv) error { return nil }, 0, "", "", false},
		{"error", func(context.Context, ebb.FuncEnv) error { return errors.New("no luck") }, 1, "no luck", "", false},
		{"transient", func(context.Context, ebb.FuncEnv) error { return fmt.Errorf("busy: %w", ebb.ErrUnavailable) }, 1, "busy", "", true},
		{"panic", func(context.Context, ebb.FuncEnv) error { panic("oops") }, 1, "func panicked: oops", "panic: oops", false},
		{"goexit", func(context.Context, ebb.FuncEnv) error { runtime.Goexit(); return nil }, -1, "runtime.Goexit", "", false},
		{"writes", func(_ context.Context, env ebb.FuncEnv) error {
			fmt.Fprint(env.Stdout, "out")
			fmt.Fprint(env.Stderr, "err")
			return nil
		}, 0, "", "err", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, a, tc.name, pool.ExecConfig{Func: tc.fn})
			if r.ExitCode != tc.wantCode || !strings.Contains(r.Error, tc.wantError) || (tc.wantError == "") != (r.Error == "") {
				t.Errorf("Result = exit %d, error %q; want exit %d, error %q", r.ExitCode, r.Error, tc.wantCode, tc.wantError)
			}
			if !strings.Contains(r.Stderr, tc.stderr) {
				t.Errorf("Result.Stderr = %q, want it to hold %q", r.Stderr, tc.stderr)
			}
			if r.Killed {
				t.Errorf("Result.Killed for an exec nobody killed")
			}
			if r.Transient != tc.transient {
				t.Errorf("Result.Transient = %v, want %v", r.Transient, tc.transient)
			}
		})
	}
}

func TestFuncKill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPool(t, Config{})
		a := accept(t, p, nil)
		e := put(t, a, "block", pool.ExecConfig{Func: blockFunc})
		synctest.Wait()
		if in, _ := e.Inspect(ctx); in.State != pool.ExecRunning || in.Result != nil {
			t.Errorf("Inspect of a running exec = %+v, want running without a result", in)
		}
		if err := e.Kill(ctx); err != nil {
			t.Fatal(err)
		}
		r := wait(t, e)
		if !r.Killed || r.ExitCode != -1 || r.Error != "killed" {
			t.Errorf("Result of a killed func = killed %v, exit %d, error %q; want true, -1, killed", r.Killed, r.ExitCode, r.Error)
		}
		if in, _ := e.Inspect(ctx); in.State != pool.ExecDone || in.Result == nil || !in.Result.Killed {
			t.Errorf("Inspect of a killed exec = %+v, want done and killed", in)
		}
		if err := e.Kill(ctx); err != nil {
			t.Errorf("Kill of an ended exec: %v, want nil", err)
		}
	})
}

func TestFuncContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type key struct{}
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
		p := newPool(t, Config{})
		a := accept(t, p, nil)
		got := make(chan any, 1)
		e, err := a.Put(ctx, id("ctx"), pool.ExecConfig{Func: func(ctx context.Context, _ ebb.FuncEnv) error {
			got <- ctx.Value(key{})
			<-ctx.Done()
			if context.Cause(ctx) != context.Canceled {
				return fmt.Errorf("Cause = %v, want Canceled", context.Cause(ctx))
			}
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		if v := <-got; v != "v" {
			t.Errorf("func's ctx.Value = %v, want the Put ctx's value", v)
		}
		cancel() // The Put's ctx ending does not stop the exec.
		synctest.Wait()
		if in, _ := e.Inspect(context.Background()); in.State != pool.ExecRunning {
			t.Errorf("exec state after its Put's ctx ended = %s, want running", in.State)
		}
		e.Kill(context.Background())
		if r := wait(t, e); !r.Killed {
			t.Errorf("Result = %+v, want killed", r)
		}
	})
}

func TestFuncMakesNoFiles(t *testing.T) {
	dir := t.TempDir()
	p := newPool(t, Config{Dir: dir})
	a := accept(t, p, nil)
	e := put(t, a, "noop", pool.ExecConfig{Func: func(context.Context, ebb.FuncEnv) error { return nil }})
	wait(t, e)
	if err := a.Remove(context.Background(), e.ID()); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(filepath.Join(dir, allocsName))
	if err != nil || len(ents) != 0 {
		t.Errorf("allocs directory after a func exec holds %v (%v), want nothing", ents, err)
	}
}

func TestRemove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPool(t, Config{})
		a := accept(t, p, nil)
		var runs atomic.Int32
		cfg := pool.ExecConfig{Func: func(ctx context.Context, _ ebb.FuncEnv) error {
			runs.Add(1)
			<-ctx.Done()
			return nil
		}}
		e := put(t, a, "task", cfg)
		// Remove kills a running exec and waits for it.
		if err := a.Remove(ctx, e.ID()); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Exec(ctx, e.ID()); !errors.Is(err, ebb.ErrNotExist) {
			t.Errorf("Exec after Remove: %v, want ErrNotExist", err)
		}
		if _, err := e.Wait(ctx); !errors.Is(err, ebb.ErrNotExist) {
			t.Errorf("Wait on a removed exec: %v, want ErrNotExist", err)
		}
		if err := a.Remove(ctx, e.ID()); !errors.Is(err, ebb.ErrNotExist) {
			t.Errorf("second Remove: %v, want ErrNotExist", err)
		}
		if in, _ := a.Inspect(ctx); in.Running != 0 {
			t.Errorf("running execs after Remove = %d, want 0", in.Running)
		}
		// A later Put of the same ID runs again.
		e2 := put(t, a, "task", cfg)
		synctest.Wait()
		if e2 == e || runs.Load() != 2 {
			t.Errorf("Put after Remove: same exec %v, runs %d; want a new exec and 2 runs", e2 == e, runs.Load())
		}
		execs, _ := a.Execs(ctx)
		if len(execs) != 1 || execs[0] != e2 {
			t.Errorf("Execs = %v, want just the new exec", execs)
		}
		e2.Kill(ctx)
	})
}

func TestExecsOrdered(t *testing.T) {
	ctx := context.Background()
	p := newPool(t, Config{})
	a := accept(t, p, nil)
	noop := pool.ExecConfig{Func: func(context.Context, ebb.FuncEnv) error { return nil }}
	for i := range 5 {
		wait(t, put(t, a, fmt.Sprint(i), noop))
	}
	execs, err := a.Execs(ctx)
	if err != nil || len(execs) != 5 {
		t.Fatalf("Execs = %d execs, %v; want 5", len(execs), err)
	}
	for i := 1; i < len(execs); i++ {
		if execs[i-1].ID() >= execs[i].ID() {
			t.Errorf("Execs not ordered by ID: %s before %s", execs[i-1].ID(), execs[i].ID())
		}
	}
}

func TestTailBounded(t *testing.T) {
	tl := tail{max: 8}
	var all strings.Builder
	for i := range 100 {
		s := strings.Repeat(fmt.Sprint(i%10), i%13)
		tl.Write([]byte(s))
		all.WriteString(s)
		want := all.String()[max(0, all.Len()-8):]
		if got := tl.String(); got != want {
			t.Fatalf("after write %d: tail %q, want %q", i, got, want)
		}
		if len(tl.buf) > 16 || cap(tl.buf) > 32 {
			t.Fatalf("after write %d: tail holds %d bytes in %d, want at most 16", i, len(tl.buf), cap(tl.buf))
		}
	}
}
