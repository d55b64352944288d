package remote_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
	"github.com/ebbflow/ebb/pool/remote"
	"github.com/opencontainers/go-digest"
)

// A server of an in-memory pool, and a client that uses it as any other
// pool. Over a network, the client's URL is the worker's address and its
// Pin the worker's certificate's; InProcess stands in for the network
// here.
func Example() {
	ctx := context.Background()
	mem := pooltest.NewPool(pooltest.PoolConfig{Run: pooltest.Builtins})
	defer mem.Close()
	token := remote.NewToken()
	srv, err := remote.NewServer(remote.ServerConfig{Pool: mem, Token: token})
	if err != nil {
		panic(err)
	}
	c, err := remote.Dial(ctx, remote.ClientConfig{
		URL:       "http://worker.example",
		Token:     token,
		Transport: remote.InProcess(srv),
	})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	a, err := pool.Allocate(ctx, c, ebb.Requirements{Min: ebb.Resources{"cpu": 1}}, nil)
	if err != nil {
		panic(err)
	}
	defer a.Free(ctx)
	e, err := a.Put(ctx, digest.FromString("hello"), pool.ExecConfig{Argv: []string{"echo", "hello", "worker"}})
	if err != nil {
		panic(err)
	}
	r, err := e.Wait(ctx)
	fmt.Printf("%q %v\n", r.Stdout, err)

	_, err = a.Put(ctx, digest.FromString("func"), pool.ExecConfig{Func: func(context.Context, ebb.FuncEnv) error { return nil }})
	fmt.Println("a func crosses the wire:", !errors.Is(err, ebb.ErrInvalid))
	// Output:
	// "hello worker\n" <nil>
	// a func crosses the wire: false
}

// A parent process reads where its worker listens from the worker's
// standard output.
func ExampleParseListening() {
	line := remote.ListeningLine("https://127.0.0.1:8443", remote.Fingerprint([]byte("certificate")))
	url, pin, ok := remote.ParseListening(line)
	fmt.Println(url, strings.HasPrefix(pin, "sha256:"), ok)
	// Output: https://127.0.0.1:8443 true true
}
