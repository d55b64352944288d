package local

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// callAlloc returns an alloc of a new pool holding one cpu, as its Call.
func callAlloc(t *testing.T) *alloc {
	t.Helper()
	return accept(t, newPool(t, Config{}), ebb.Resources{ebb.CPU: 1}).(*alloc)
}

func TestCallRunsAndRemoves(t *testing.T) {
	ctx := context.Background()
	a := callAlloc(t)
	cfg := pool.ExecConfig{
		Func: func(_ context.Context, env ebb.FuncEnv) error {
			env.Stdout.Write([]byte("hi"))
			return nil
		},
		Resources: ebb.Resources{ebb.CPU: 1},
	}
	for i := range 3 { // each holds the whole alloc: Call gave it back
		r, err := a.Call(ctx, id("call"), cfg)
		if err != nil || !r.OK() || r.Stdout != "hi" || r.Resources[ebb.CPU] != 1 {
			t.Fatalf("call %d: Call = %+v, %v; want success, stdout hi, holding 1 cpu", i, r, err)
		}
		if _, err := a.Exec(ctx, id("call")); !errors.Is(err, ebb.ErrNotExist) {
			t.Fatalf("call %d: Exec after Call = %v, want ErrNotExist", i, err)
		}
	}
	cfg.Func = func(context.Context, ebb.FuncEnv) error { return errors.New("no") }
	if r, err := a.Call(ctx, id("fails"), cfg); err != nil || r.ExitCode != 1 || r.Error != "no" {
		t.Fatalf("Call of a failing func = %+v, %v; want exit 1, error no", r, err)
	}
	cfg.Resources = ebb.Resources{ebb.CPU: 2}
	if _, err := a.Call(ctx, id("big"), cfg); !errors.Is(err, ebb.ErrResources) {
		t.Fatalf("Call beyond the alloc = %v, want ErrResources", err)
	}
}

// TestCallKnownExec: Call of an exec already put returns that exec's
// result, as Put would re-attach to it.
func TestCallKnownExec(t *testing.T) {
	ctx := context.Background()
	a := callAlloc(t)
	first := pool.ExecConfig{Func: func(_ context.Context, env ebb.FuncEnv) error {
		env.Stdout.Write([]byte("first"))
		return nil
	}}
	if _, err := a.Put(ctx, id("x"), first); err != nil {
		t.Fatal(err)
	}
	second := pool.ExecConfig{Func: func(context.Context, ebb.FuncEnv) error { return errors.New("second ran") }}
	r, err := a.Call(ctx, id("x"), second)
	if err != nil || !r.OK() || r.Stdout != "first" {
		t.Fatalf("Call = %+v, %v; want the first exec's result", r, err)
	}
	if _, err := a.Exec(ctx, id("x")); !errors.Is(err, ebb.ErrNotExist) {
		t.Fatalf("Exec after Call = %v, want ErrNotExist", err)
	}
}

// TestCallKill: Kill from another goroutine cancels the func Call runs.
func TestCallKill(t *testing.T) {
	ctx := context.Background()
	a := callAlloc(t)
	started := make(chan struct{})
	cfg := pool.ExecConfig{Func: func(ctx context.Context, _ ebb.FuncEnv) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	}}
	go func() {
		<-started
		x, err := a.Exec(ctx, id("k"))
		if err != nil {
			t.Errorf("Exec while Call runs: %v", err)
			return
		}
		if in, err := x.Inspect(ctx); err != nil || in.State != pool.ExecRunning {
			t.Errorf("Inspect while Call runs = %+v, %v; want running", in, err)
		}
		if err := x.Kill(ctx); err != nil {
			t.Errorf("Kill: %v", err)
		}
	}()
	r, err := a.Call(ctx, id("k"), cfg)
	if err != nil || !r.Killed {
		t.Fatalf("Call of a killed func = %+v, %v; want killed", r, err)
	}
}

// TestCallContextEnds: when Call's context ends, the func's context is
// cancelled, and Call returns ctx's error and forgets the exec.
func TestCallContextEnds(t *testing.T) {
	a := callAlloc(t)
	ctx, cancel := context.WithCancel(context.Background())
	cfg := pool.ExecConfig{
		Func: func(fctx context.Context, _ ebb.FuncEnv) error {
			done := fctx.Done()
			cancel()
			<-done
			return fctx.Err()
		},
		Resources: ebb.Resources{ebb.CPU: 1},
	}
	if _, err := a.Call(ctx, id("c"), cfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("Call whose context ended = %v, want context.Canceled", err)
	}
	bg := context.Background()
	if _, err := a.Exec(bg, id("c")); !errors.Is(err, ebb.ErrNotExist) {
		t.Fatalf("Exec after Call = %v, want ErrNotExist", err)
	}
	// A func that never looks at its context runs to its end; the
	// context ended first all the same.
	ctx2, cancel2 := context.WithCancel(bg)
	ran := false
	cfg.Func = func(context.Context, ebb.FuncEnv) error { cancel2(); ran = true; return nil }
	if _, err := a.Call(ctx2, id("d"), cfg); !errors.Is(err, context.Canceled) || !ran {
		t.Fatalf("Call whose context ended = %v, ran %v; want context.Canceled, ran", err, ran)
	}
	// Both gave their cpu back.
	cfg.Func = func(context.Context, ebb.FuncEnv) error { return nil }
	if r, err := a.Call(bg, id("e"), cfg); err != nil || !r.OK() {
		t.Fatalf("Call after = %+v, %v; want success", r, err)
	}
}

// TestCallWaitedElsewhere: the exec Call runs is waited for by others
// as any exec is: Remove from another goroutine kills it and waits for
// its end, a Wait there returns once it has ended.
func TestCallWaitedElsewhere(t *testing.T) {
	ctx := context.Background()
	a := callAlloc(t)
	started := make(chan struct{})
	cfg := pool.ExecConfig{
		Func: func(ctx context.Context, _ ebb.FuncEnv) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		},
		Resources: ebb.Resources{ebb.CPU: 1},
	}
	waited := make(chan error, 1)
	removed := make(chan error, 1)
	go func() {
		<-started
		x, err := a.Exec(ctx, id("w"))
		if err != nil {
			waited <- err
			removed <- err
			return
		}
		go func() {
			r, err := x.Wait(ctx)
			if err == nil && !r.Killed {
				err = errors.New("wait: not killed")
			}
			waited <- err
		}()
		removed <- a.Remove(ctx, id("w")) // kills, then waits for the end
	}()
	r, err := a.Call(ctx, id("w"), cfg)
	if err != nil && !errors.Is(err, ebb.ErrNotExist) || err == nil && !r.Killed {
		t.Fatalf("Call of a func removed meanwhile = %+v, %v; want killed or ErrNotExist", r, err)
	}
	if err := <-removed; err != nil {
		t.Fatalf("Remove while Call runs: %v", err)
	}
	if err := <-waited; err != nil && !errors.Is(err, ebb.ErrNotExist) {
		t.Fatalf("Wait while Call runs: %v; want the killed result or ErrNotExist", err)
	}
	if _, err := a.Exec(ctx, id("w")); !errors.Is(err, ebb.ErrNotExist) {
		t.Fatalf("Exec after = %v, want ErrNotExist", err)
	}
	// Its cpu is back.
	cfg.Func = func(context.Context, ebb.FuncEnv) error { return nil }
	if r, err := a.Call(ctx, id("after"), cfg); err != nil || !r.OK() || r.Resources[ebb.CPU] != 1 {
		t.Fatalf("Call after = %+v, %v; want success holding 1 cpu", r, err)
	}
}

// TestCallGoexit: a func that calls runtime.Goexit ends the goroutine
// that called Call, and its exec ends failed, its resources given back.
func TestCallGoexit(t *testing.T) {
	ctx := context.Background()
	a := callAlloc(t)
	cfg := pool.ExecConfig{
		Func:      func(context.Context, ebb.FuncEnv) error { runtime.Goexit(); return nil },
		Resources: ebb.Resources{ebb.CPU: 1},
	}
	returned := false
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		a.Call(ctx, id("g"), cfg)
		returned = true
	}()
	<-ended
	if returned {
		t.Fatal("Call returned after its func called runtime.Goexit")
	}
	x, err := a.Exec(ctx, id("g"))
	if err != nil {
		t.Fatalf("Exec after Goexit: %v", err)
	}
	r, err := x.Wait(ctx)
	if err != nil || r.ExitCode != -1 || !strings.Contains(r.Error, "Goexit") {
		t.Fatalf("Wait = %+v, %v; want failed by Goexit", r, err)
	}
	cfg.Func = func(context.Context, ebb.FuncEnv) error { return nil }
	if r, err := a.Call(ctx, id("after"), cfg); err != nil || !r.OK() {
		t.Fatalf("Call after Goexit = %+v, %v; want success on the cpu given back", r, err)
	}
}

// TestCallAllocs guards what Call saves over Put, Wait and Remove (see
// TestFuncExecAllocs): no goroutine is started, no done channel made
// (nobody else waits), the Result's Resources are cfg's, and the exec
// record is the one the last Call left (see TestCallReuse): no
// allocation at all. It was one, the record, before records were
// reused.
func TestCallAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("counts allocations over a few thousand execs")
	}
	ctx := context.Background()
	a := callAlloc(t)
	cfg := pool.ExecConfig{
		Func:      func(context.Context, ebb.FuncEnv) error { return nil },
		Resources: ebb.Resources{ebb.CPU: 0.001},
	}
	const n = 2000
	ids := execIDs(n)
	i := 0
	perCall := testing.AllocsPerRun(n-1, func() {
		if r, err := a.Call(ctx, ids[i], cfg); err != nil || !r.OK() {
			t.Fatalf("Call = %+v, %v", r, err)
		}
		i++
	})
	t.Logf("%.2f allocations a call", perCall)
	if perCall > maxCallAllocs {
		t.Errorf("%.2f allocations a call, want at most %d", perCall, maxCallAllocs)
	}
}

const maxCallAllocs = 0

// TestExecSize guards the size of the exec record, the one allocation of
// a Call (see TestCallAllocs): within the allocator's 512-byte class,
// where a pointerful object needs no header of its own. It was 624
// bytes, in the 640 class, with a command's fields in every exec.
func TestExecSize(t *testing.T) {
	if n := unsafe.Sizeof(exec{}); n > 512 {
		t.Errorf("an exec takes %d bytes, want at most 512", n)
	}
}
