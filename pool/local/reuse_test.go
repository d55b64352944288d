package local

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// TestCallStaleExec: an exec that someone else got hold of while Call
// ran it (Exec, Execs, a Put of its ID) is never reused for a later
// Call: the holder's Wait, Inspect and Kill see the old exec, removed,
// not another exec's state or result, and a Remove of its ID finds
// nothing. The later Call checks while its own func runs, when a reused
// record would be the running exec, and after.
func TestCallStaleExec(t *testing.T) {
	ctx := context.Background()
	ways := map[string]func(a *alloc, x pool.ExecID) (pool.Exec, error){
		"Exec": func(a *alloc, x pool.ExecID) (pool.Exec, error) { return a.Exec(ctx, x) },
		"Execs": func(a *alloc, x pool.ExecID) (pool.Exec, error) {
			all, err := a.Execs(ctx)
			if err != nil || len(all) != 1 {
				return nil, fmt.Errorf("Execs = %v, %v; want the one exec", all, err)
			}
			return all[0], nil
		},
		"Put": func(a *alloc, x pool.ExecID) (pool.Exec, error) {
			return a.Put(ctx, x, pool.ExecConfig{Func: func(context.Context, ebb.FuncEnv) error { return nil }})
		},
	}
	for way, get := range ways {
		t.Run(way, func(t *testing.T) {
			a := callAlloc(t)
			for i := range 20 {
				old, next := id(fmt.Sprintf("old%d", i)), id(fmt.Sprintf("next%d", i))
				var stale pool.Exec
				r, err := a.Call(ctx, old, pool.ExecConfig{Func: func(context.Context, ebb.FuncEnv) error {
					var err error
					stale, err = get(a, old)
					return err
				}})
				if err != nil || !r.OK() {
					t.Fatalf("Call = %+v, %v; want success", r, err)
				}
				checkStale := func(when string) {
					t.Helper()
					if got := stale.ID(); got != old {
						t.Fatalf("%s: the exec got by %s has ID %s, want %s", when, way, got, old)
					}
					if in, err := stale.Inspect(ctx); !errors.Is(err, ebb.ErrNotExist) {
						t.Fatalf("%s: Inspect of the exec got by %s = %+v, %v; want ErrNotExist", when, way, in, err)
					}
					if err := stale.Kill(ctx); !errors.Is(err, ebb.ErrNotExist) {
						t.Fatalf("%s: Kill of the exec got by %s = %v, want ErrNotExist", when, way, err)
					}
				}
				r, err = a.Call(ctx, next, pool.ExecConfig{Func: func(ctx context.Context, _ ebb.FuncEnv) error {
					checkStale("while the next Call runs")
					return nil
				}})
				if err != nil || !r.OK() {
					t.Fatalf("the next Call = %+v, %v; want success", r, err)
				}
				checkStale("after the next Call")
				if r, err := stale.Wait(ctx); !errors.Is(err, ebb.ErrNotExist) {
					t.Fatalf("Wait of the exec got by %s = %+v, %v; want ErrNotExist", way, r, err)
				}
				if err := a.Remove(ctx, old); !errors.Is(err, ebb.ErrNotExist) {
					t.Fatalf("Remove of the old ID = %v, want ErrNotExist", err)
				}
			}
		})
	}
}

// TestCallReuse: Call reuses the record of an exec whose func returned
// without a trace that it may go on using its context or streams, and
// only that: the record's context is the next func's context.
func TestCallReuse(t *testing.T) {
	ctx := context.Background()
	quiet := func(context.Context, ebb.FuncEnv) error { return nil }
	for _, c := range []struct {
		name   string
		fn     func(a *alloc, x pool.ExecID) ebb.Func
		reused bool
	}{
		{"quiet", func(*alloc, pool.ExecID) ebb.Func { return quiet }, true},
		{"failed", func(*alloc, pool.ExecID) ebb.Func {
			return func(context.Context, ebb.FuncEnv) error { return errors.New("no") }
		}, true},
		{"wrote stdout", func(*alloc, pool.ExecID) ebb.Func {
			return func(_ context.Context, env ebb.FuncEnv) error { env.Stdout.Write([]byte("x")); return nil }
		}, false},
		{"wrote stderr", func(*alloc, pool.ExecID) ebb.Func {
			return func(_ context.Context, env ebb.FuncEnv) error { env.Stderr.Write([]byte("x")); return nil }
		}, false},
		{"asked for Done", func(*alloc, pool.ExecID) ebb.Func {
			return func(ctx context.Context, _ ebb.FuncEnv) error { ctx.Done(); return nil }
		}, false},
		{"panicked", func(*alloc, pool.ExecID) ebb.Func {
			return func(context.Context, ebb.FuncEnv) error { panic("no") }
		}, false},
		{"got by Exec", func(a *alloc, x pool.ExecID) ebb.Func {
			return func(ctx context.Context, _ ebb.FuncEnv) error { _, err := a.Exec(ctx, x); return err }
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := callAlloc(t)
			var first, second context.Context
			fn := c.fn(a, id("first"))
			if _, err := a.Call(ctx, id("first"), pool.ExecConfig{Func: func(ctx context.Context, env ebb.FuncEnv) error {
				first = ctx
				return fn(ctx, env)
			}}); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Call(ctx, id("second"), pool.ExecConfig{Func: func(ctx context.Context, _ ebb.FuncEnv) error {
				second = ctx
				return nil
			}}); err != nil {
				t.Fatal(err)
			}
			if got := first == second; got != c.reused {
				t.Errorf("the second Call's record is the first's: %v, want %v", got, c.reused)
			}
		})
	}
}

// TestCallReuseConcurrent: Calls at once on one alloc never share a
// record, though records go back and forth through the alloc's spare
// slots and free list (see alloc.reused): each func finds its context
// used by no other running func, and records are reused.
func TestCallReuseConcurrent(t *testing.T) {
	const goroutines, calls = 8, 300
	ctx := context.Background()
	a := callAlloc(t)
	ids := execIDs(goroutines * calls)
	var (
		mu      sync.Mutex
		running = map[context.Context]bool{}
		seen    = map[context.Context]bool{}
		shared  atomic.Int32
	)
	fn := func(ctx context.Context, _ ebb.FuncEnv) error {
		mu.Lock()
		if running[ctx] {
			shared.Add(1)
		}
		running[ctx], seen[ctx] = true, true
		mu.Unlock()
		runtime.Gosched() // let other Calls start meanwhile
		mu.Lock()
		delete(running, ctx)
		mu.Unlock()
		return nil
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range calls {
				if r, err := a.Call(ctx, ids[g*calls+i], pool.ExecConfig{Func: fn}); err != nil || !r.OK() {
					t.Errorf("Call = %+v, %v", r, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := shared.Load(); n > 0 {
		t.Errorf("%d funcs ran on a record another running func had", n)
	}
	if len(seen) >= goroutines*calls {
		t.Errorf("%d records for %d Calls: none reused", len(seen), goroutines*calls)
	}
	t.Logf("%d records for %d Calls", len(seen), goroutines*calls)
}
