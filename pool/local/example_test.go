package local_test

import (
	"context"
	"fmt"
	"log"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/local"
)

// A pool of this machine: take an alloc from its offer, run a command in
// it, and read how it went.
func Example() {
	ctx := context.Background()
	p, err := local.New(local.Config{}) // this machine, in a temporary directory
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(ctx)

	offers, err := p.Offers(ctx)
	if err != nil || len(offers) == 0 {
		log.Fatal("no offer: ", err)
	}
	alloc, err := offers[0].Accept(ctx, pool.AllocMeta{
		Want:  ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}},
		Owner: "example",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer alloc.Free(ctx)

	cfg := pool.ExecConfig{
		Argv:      []string{"echo", "hello from", "the pool"},
		Resources: ebb.Resources{ebb.CPU: 1},
	}
	exec, err := alloc.Put(ctx, cfg.Digest(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	res, err := exec.Wait(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("exit code:", res.ExitCode)
	fmt.Print("stdout: ", res.Stdout)
	// Output:
	// exit code: 0
	// stdout: hello from the pool
}
