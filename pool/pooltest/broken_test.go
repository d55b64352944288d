package pooltest_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/proctest"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
)

// The suite is only as good as the breaches it catches. Each bug below
// breaks a memory pool in one way; TestRunCatchesBrokenPools runs the suite
// against each in a child process (Run takes a real *testing.T, whose
// failures would fail this test) and checks that the subtests named fail.
const brokenEnv = "POOLTEST_BROKEN"

var bugs = []struct {
	bug      string
	wantFail []string // subtests of TestBrokenChild that must fail
}{
	{"none", nil},
	{"put-not-idempotent", []string{"Put/Idempotent"}},
	{"accept-ignores-races", []string{"Accept/Race", "Accept/Stale"}},
	{"keepalive-does-nothing", []string{"Lease/Keepalive"}},
	{"offers-ignore-allocs", []string{"Offers", "Accept/Race"}},
	{"put-panics-on-invalid", []string{"Put/Invalid"}},
	{"kill-not-reported", []string{"Results", "Free", "Lease/Expiry"}},
	{"alloc-reports-inner-pool", []string{"Accept/Grant", "Allocs"}},
}

// TestBrokenChild runs the suite against the broken pool named by the
// environment; it is skipped unless TestRunCatchesBrokenPools runs it.
func TestBrokenChild(t *testing.T) {
	bug := os.Getenv(brokenEnv)
	if bug == "" {
		t.Skip("run by TestRunCatchesBrokenPools")
	}
	pooltest.Run(t, pooltest.Config{
		New: func(t *testing.T) pool.Pool {
			p := pooltest.NewPool(pooltest.PoolConfig{Nodes: threeNodes, Lease: time.Minute})
			t.Cleanup(func() { p.Close() })
			return &brokenPool{Pool: p, bug: bug}
		},
		Lease:   time.Minute,
		Timeout: 10 * time.Second,
	})
}

func TestRunCatchesBrokenPools(t *testing.T) {
	for _, b := range bugs {
		t.Run(b.bug, func(t *testing.T) {
			t.Parallel()
			proctest.CheckBroken(t, "TestBrokenChild", brokenEnv+"="+b.bug, b.wantFail)
		})
	}
}

// brokenPool wraps a memory pool with one bug.
type brokenPool struct {
	*pooltest.Pool
	bug string
}

func (p *brokenPool) Offers(ctx context.Context) ([]pool.Offer, error) {
	offers, err := p.Pool.Offers(ctx)
	for i, o := range offers {
		offers[i] = &brokenOffer{Offer: o, p: p}
	}
	return offers, err
}

func (p *brokenPool) Alloc(ctx context.Context, id string) (pool.Alloc, error) {
	a, err := p.Pool.Alloc(ctx, id)
	if err != nil {
		return nil, err
	}
	return &brokenAlloc{Alloc: a, p: p}, nil
}

func (p *brokenPool) Allocs(ctx context.Context) ([]pool.Alloc, error) {
	allocs, err := p.Pool.Allocs(ctx)
	for i, a := range allocs {
		allocs[i] = &brokenAlloc{Alloc: a, p: p}
	}
	return allocs, err
}

type brokenOffer struct {
	pool.Offer
	p *brokenPool
}

// node is the offer's node: its IDs read "memory/node3/v7".
func (o *brokenOffer) node() (prefix string, index int) {
	prefix = o.ID()[:strings.LastIndex(o.ID(), "/")+1]
	index, _ = strconv.Atoi(strings.TrimPrefix(prefix[:len(prefix)-1], o.p.ID()+"/node"))
	return prefix, index
}

func (o *brokenOffer) Available() ebb.Resources {
	if o.p.bug == "offers-ignore-allocs" {
		_, i := o.node()
		caps, _ := o.p.Capacity(context.Background())
		return caps[i]
	}
	return o.Offer.Available()
}

func (o *brokenOffer) Accept(ctx context.Context, meta pool.AllocMeta) (pool.Alloc, error) {
	a, err := o.Offer.Accept(ctx, meta)
	if o.p.bug == "accept-ignores-races" && errors.Is(err, ebb.ErrOfferGone) {
		// Accept whatever the node offers now.
		prefix, _ := o.node()
		offers, _ := o.p.Pool.Offers(ctx)
		for _, fresh := range offers {
			if strings.HasPrefix(fresh.ID(), prefix) {
				a, err = fresh.Accept(ctx, meta)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	return &brokenAlloc{Alloc: a, p: o.p}, nil
}

type brokenAlloc struct {
	pool.Alloc
	p *brokenPool
}

func (a *brokenAlloc) Pool() pool.Pool {
	if a.p.bug == "alloc-reports-inner-pool" {
		return a.p.Pool
	}
	return a.p
}

func (a *brokenAlloc) Keepalive(ctx context.Context, lease time.Duration) (time.Duration, error) {
	if a.p.bug == "keepalive-does-nothing" {
		if _, err := a.Inspect(ctx); err != nil {
			return 0, err
		}
		return lease, nil
	}
	return a.Alloc.Keepalive(ctx, lease)
}

func (a *brokenAlloc) Put(ctx context.Context, id pool.ExecID, cfg pool.ExecConfig) (pool.Exec, error) {
	switch a.p.bug {
	case "put-not-idempotent":
		a.Alloc.Remove(ctx, id)
	case "put-panics-on-invalid":
		if err := cfg.Validate(); err != nil {
			panic(err)
		}
	}
	e, err := a.Alloc.Put(ctx, id, cfg)
	if err != nil {
		return nil, err
	}
	return a.wrap(e), nil
}

func (a *brokenAlloc) Exec(ctx context.Context, id pool.ExecID) (pool.Exec, error) {
	e, err := a.Alloc.Exec(ctx, id)
	if err != nil {
		return nil, err
	}
	return a.wrap(e), nil
}

func (a *brokenAlloc) wrap(e pool.Exec) pool.Exec {
	if a.p.bug == "kill-not-reported" {
		return brokenExec{e}
	}
	return e
}

// brokenExec hides that it was killed, or lost with its alloc.
type brokenExec struct{ pool.Exec }

func (e brokenExec) Wait(ctx context.Context) (pool.Result, error) {
	r, err := e.Exec.Wait(ctx)
	if errors.Is(err, ebb.ErrExpired) {
		return pool.Result{ExitCode: -1}, nil
	}
	r.Killed = false
	return r, err
}
