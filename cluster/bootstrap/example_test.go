package bootstrap_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
)

// A provider expects a worker, hands its command line and environment to
// its engine, and waits for the worker to announce itself.
func Example() {
	b, err := bootstrap.New(bootstrap.Config{
		Command: []string{"/usr/local/bin/ebb", "worker"},
		Listen:  "127.0.0.1:0", // where workers reach the driver
	})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	shape := cluster.Shape{Name: "node", Resources: ebb.Resources{ebb.CPU: 8, ebb.Mem: 32 << 30}}
	e, err := b.Expect("job-17", shape)
	if err != nil {
		log.Fatal(err)
	}
	// The engine runs e.Argv with e.Env added to the environment.
	fmt.Println(strings.Join(e.Argv[:8], " "))
	fmt.Println(strings.Contains(strings.Join(e.Argv, " "), b.URL()), strings.HasPrefix(e.Env[0], "EBB_TOKEN="))

	// Here nothing starts it, so the wait ends with its context.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err = e.Wait(ctx)
	fmt.Println(errors.Is(err, context.DeadlineExceeded))
	// Output:
	// /usr/local/bin/ebb worker -id job-17 -listen 127.0.0.1:0 -resources cpu=8,mem=32GiB
	// true true
	// true
}
