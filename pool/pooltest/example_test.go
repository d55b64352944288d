package pooltest_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
	"github.com/opencontainers/go-digest"
)

// A memory pool hands out allocs like any pool, and runs Go functions in
// them.
func Example() {
	ctx := context.Background()
	p := pooltest.NewPool(pooltest.PoolConfig{
		Nodes: []ebb.Resources{{ebb.CPU: 4, ebb.Mem: 8 << 30}},
	})
	defer p.Close()

	offers, err := p.Offers(ctx)
	if err != nil {
		panic(err)
	}
	a, err := offers[0].Accept(ctx, pool.AllocMeta{
		Want:  ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1, ebb.Mem: 1 << 30}, Width: 2},
		Owner: "example",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("alloc:", a.Resources())

	hello := func(ctx context.Context, env ebb.FuncEnv) error {
		fmt.Fprintln(env.Stdout, "hello from the pool")
		return nil
	}
	e, err := a.Put(ctx, digest.FromString("hello"), pool.ExecConfig{Func: hello, Resources: ebb.Resources{ebb.CPU: 1}})
	if err != nil {
		panic(err)
	}
	r, err := e.Wait(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("ok:", r.OK())
	fmt.Print("stdout: ", r.Stdout)

	if err := a.Free(ctx); err != nil {
		panic(err)
	}
	offers, _ = p.Offers(ctx)
	fmt.Println("offered after Free:", offers[0].Available())
	// Output:
	// alloc: 2 cpu, 2.0 GiB mem
	// ok: true
	// stdout: hello from the pool
	// offered after Free: 4 cpu, 8.0 GiB mem
}

// FailNext makes the next call fail, as a flaky backend would.
func ExamplePool_FailNext() {
	ctx := context.Background()
	p := pooltest.NewPool(pooltest.PoolConfig{})
	defer p.Close()

	p.FailNext(pooltest.OpAccept, ebb.ErrUnavailable)
	offers, _ := p.Offers(ctx)
	want := pool.AllocMeta{Want: ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}}
	_, err := offers[0].Accept(ctx, want)
	fmt.Println("first:", errors.Is(err, ebb.ErrUnavailable), ebb.Retryable(err))
	_, err = offers[0].Accept(ctx, want)
	fmt.Println("second:", err)
	fmt.Println("accept calls:", p.Stats().Calls[pooltest.OpAccept])
	// Output:
	// first: true true
	// second: <nil>
	// accept calls: 2
}

// Kill loses an alloc as if its node died: its execs are killed and every
// later call on it fails with ebb.ErrExpired.
func ExamplePool_Kill() {
	ctx := context.Background()
	p := pooltest.NewPool(pooltest.PoolConfig{})
	defer p.Close()

	offers, _ := p.Offers(ctx)
	a, _ := offers[0].Accept(ctx, pool.AllocMeta{Want: ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}})
	wait := func(ctx context.Context, _ ebb.FuncEnv) error {
		<-ctx.Done()
		return ctx.Err()
	}
	e, _ := a.Put(ctx, digest.FromString("forever"), pool.ExecConfig{Func: wait})

	p.Kill(a.ID())
	_, err := e.Wait(ctx)
	fmt.Println("exec lost:", errors.Is(err, ebb.ErrExpired))
	_, err = a.Keepalive(ctx, time.Minute)
	fmt.Println("alloc expired:", errors.Is(err, ebb.ErrExpired))
	// Output:
	// exec lost: true
	// alloc expired: true
}

// Builtins lets a memory pool run a few commands, for code that puts
// command execs.
func ExampleBuiltins() {
	ctx := context.Background()
	p := pooltest.NewPool(pooltest.PoolConfig{Run: pooltest.Builtins})
	defer p.Close()

	offers, _ := p.Offers(ctx)
	a, _ := offers[0].Accept(ctx, pool.AllocMeta{Want: ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}})
	cfg := pool.ExecConfig{Argv: []string{"echo", "hi"}}
	e, _ := a.Put(ctx, cfg.Digest(), cfg)
	r, _ := e.Wait(ctx)
	fmt.Printf("exit %d, stdout %q\n", r.ExitCode, r.Stdout)
	// Output:
	// exit 0, stdout "hi\n"
}
