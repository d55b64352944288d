package pooltest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// Config says how [Run] makes and drives the pool under test. Only New is
// required; the zero value of every other field is a useful default.
type Config struct {
	// New returns a fresh, empty pool: no allocs, and every node's whole
	// capacity on offer (the suite checks that offers add up to the
	// capacity minus what its own allocs hold). Run calls New once per
	// subtest, and once per case in table subtests, with that subtest's
	// t. New registers whatever releases the pool with t.Cleanup; the
	// allocs the suite makes are freed by cleanups that run before it.
	//
	// For the lease subtests Run calls New inside a testing/synctest
	// bubble, with the bubble's t, so the pool must time its leases with
	// the time package (time.AfterFunc, time.Timer, time.Now), start its
	// goroutines from its methods (not from a goroutine made before the
	// bubble), and end them when t's cleanups run. See NoSynctest.
	New func(t *testing.T) pool.Pool

	// Lease is the lease the pool grants at Accept. When zero, the suite
	// reads it from every alloc's Inspect, as Expires − Created.
	Lease time.Duration

	// Slack is how far from its lease's end an alloc may still be alive,
	// or already gone: the lease subtests look for the alloc alive at
	// lease − Slack and gone at lease + Slack. Default Lease/10.
	Slack time.Duration

	// NoSynctest skips the lease subtests, for a pool that cannot run in
	// a testing/synctest bubble: one that talks over a real network, or
	// whose Block execs are processes. Every other subtest runs on real
	// time.
	NoSynctest bool

	// Block, Succeed and Fail make the execs the suite runs: one that
	// runs until it is killed, one that exits 0 at once, and one that
	// exits non-zero at once. The suite sets Resources on what they
	// return, and Block's exec must be killable. The defaults are Func
	// execs, which any in-process pool runs; a pool that runs only
	// commands supplies argv, like {"sleep", "1000"}, {"true"} and
	// {"false"}. In the lease subtests Block's exec runs in the bubble, so
	// it must be a Func or run in-process, or the pool sets NoSynctest.
	// Where Succeed gives a Func, the suite counts its calls to check that
	// an exec runs once.
	Block, Succeed, Fail func() pool.ExecConfig

	// Timeout bounds every wait of the subtests that run on real time:
	// an exec's Wait after Kill or Free, a call that hangs. Default one
	// minute. (In a bubble, a hang is a deadlock that synctest reports.)
	Timeout time.Duration
}

// withDefaults returns c with its zero fields filled in.
func (c Config) withDefaults() Config {
	if c.Block == nil {
		c.Block = func() pool.ExecConfig { return pool.ExecConfig{Func: blockFunc} }
	}
	if c.Succeed == nil {
		c.Succeed = func() pool.ExecConfig { return pool.ExecConfig{Func: succeedFunc} }
	}
	if c.Fail == nil {
		c.Fail = func() pool.ExecConfig { return pool.ExecConfig{Func: failFunc} }
	}
	if c.Timeout <= 0 {
		c.Timeout = time.Minute
	}
	return c
}

func blockFunc(ctx context.Context, _ ebb.FuncEnv) error {
	<-ctx.Done()
	return ctx.Err()
}

func succeedFunc(context.Context, ebb.FuncEnv) error { return nil }

func failFunc(context.Context, ebb.FuncEnv) error {
	return errors.New("pooltest: failing on purpose")
}
