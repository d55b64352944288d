package clustertest_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster/clustertest"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
	"github.com/opencontainers/go-digest"
)

type result struct {
	a   pool.Alloc
	err error
}

func allocate(ctx context.Context, c *clustertest.Cluster, req ebb.Requirements, labels ebb.Labels) <-chan result {
	out := make(chan result, 1)
	go func() {
		a, err := c.Allocate(ctx, req, labels)
		out <- result{a, err}
	}()
	return out
}

func newCluster(t *testing.T) (*clustertest.Cluster, *pooltest.Pool) {
	p := pooltest.NewPool(pooltest.PoolConfig{Nodes: []ebb.Resources{{ebb.CPU: 4}, {ebb.CPU: 2}}})
	c := clustertest.New(p)
	t.Cleanup(func() {
		c.Close()
		p.Close()
	})
	return c, p
}

func cpu(n float64) ebb.Resources { return ebb.Resources{ebb.CPU: n} }

func TestGrant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		c, p := newCluster(t)
		res := allocate(ctx, c, ebb.Requirements{Min: cpu(1), Width: 3}, ebb.Labels{"run": "r1"})
		r, err := c.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Want.Equal(ebb.Requirements{Min: cpu(1), Width: 3}) || r.Labels.String() != "run=r1" {
			t.Errorf("request = %v %v, want 1 cpu ×3 run=r1", r.Want, r.Labels)
		}
		if got := c.Pending(); len(got) != 1 || got[0] != r {
			t.Errorf("Pending = %v, want the request", got)
		}
		a, err := r.Grant(ctx)
		if err != nil {
			t.Fatalf("Grant: %v", err)
		}
		got := <-res
		if got.err != nil || got.a != a {
			t.Fatalf("Allocate = %v, %v; want the granted alloc", got.a, got.err)
		}
		// The best fit of 1 cpu is the 2-cpu node; Max clipped to it.
		if !a.Resources().Equal(cpu(2)) {
			t.Errorf("granted %v, want 2 cpu", a.Resources())
		}
		in, _ := a.Inspect(ctx)
		if in.Meta.Owner != clustertest.Owner || in.Meta.Labels.String() != "run=r1" {
			t.Errorf("alloc meta %+v, want owner %s and the request's labels", in.Meta, clustertest.Owner)
		}
		// The alloc is real: it runs execs.
		e, err := a.Put(ctx, digest.FromString("x"), pool.ExecConfig{Func: func(context.Context, ebb.FuncEnv) error { return nil }})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := e.Wait(ctx); err != nil || !r.OK() {
			t.Errorf("exec = %+v, %v", r, err)
		}
		select {
		case <-r.Done():
		default:
			t.Error("Done not closed after Grant")
		}
		if r.Cancelled() || len(c.Pending()) != 0 {
			t.Errorf("Cancelled = %v, Pending = %v; want false, none", r.Cancelled(), c.Pending())
		}
		if _, err := r.Grant(ctx); !errors.Is(err, ebb.ErrClosed) {
			t.Errorf("second Grant: %v, want ErrAnswered", err)
		}
		if err := r.Fail(ebb.ErrUnavailable); !errors.Is(err, ebb.ErrClosed) {
			t.Errorf("Fail after Grant: %v, want ErrAnswered", err)
		}
		if st := p.Stats(); st.Allocs != 1 {
			t.Errorf("pool made %d allocs, want 1", st.Allocs)
		}
	})
}

func TestGrantResources(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		c, _ := newCluster(t)
		res := allocate(ctx, c, ebb.Requirements{Min: cpu(1), Width: 4}, nil)
		r, _ := c.Next(ctx)
		if _, err := r.GrantResources(ctx, ebb.Resources{ebb.Mem: 1}); !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("GrantResources below Min: %v, want ErrInvalid", err)
		}
		if _, err := r.GrantResources(ctx, cpu(3)); err != nil {
			t.Fatal(err)
		}
		if got := <-res; got.err != nil || !got.a.Resources().Equal(cpu(3)) {
			t.Errorf("Allocate = %v, %v; want 3 cpu", got.a, got.err)
		}
	})
}

func TestGrantNoRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		c, p := newCluster(t)
		res := allocate(ctx, c, ebb.Requirements{Min: cpu(8)}, nil)
		r, _ := c.Next(ctx)
		if _, err := r.Grant(ctx); !errors.Is(err, ebb.ErrResources) {
			t.Errorf("Grant of more than any offer: %v, want ErrResources", err)
		}
		// The request is still pending: the test can answer otherwise.
		if err := r.Fail(ebb.ErrResources); err != nil {
			t.Fatal(err)
		}
		if got := <-res; !errors.Is(got.err, ebb.ErrResources) {
			t.Errorf("Allocate = %v, %v; want the error given to Fail", got.a, got.err)
		}
		if st := p.Stats(); st.Allocs != 0 {
			t.Errorf("pool made %d allocs, want none", st.Allocs)
		}
	})
}

func TestGrantAlloc(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		c, _ := newCluster(t)
		other := pooltest.NewPool(pooltest.PoolConfig{ID: "other"})
		defer other.Close()
		offers, _ := other.Offers(ctx)
		a, err := offers[0].Accept(ctx, pool.AllocMeta{Want: ebb.Requirements{Min: cpu(1)}})
		if err != nil {
			t.Fatal(err)
		}
		res := allocate(ctx, c, ebb.Requirements{Min: cpu(1)}, nil)
		r, _ := c.Next(ctx)
		if err := r.GrantAlloc(a); err != nil {
			t.Fatal(err)
		}
		if got := <-res; got.a != a {
			t.Errorf("Allocate = %v, %v; want the alloc given", got.a, got.err)
		}
	})
}

func TestCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p := newCluster(t)
		ctx, cancel := context.WithCancel(t.Context())
		res := allocate(ctx, c, ebb.Requirements{Min: cpu(1)}, nil)
		r, _ := c.Next(t.Context())
		cancel()
		<-r.Done()
		if !r.Cancelled() {
			t.Error("Cancelled = false after the Allocate's context was cancelled")
		}
		if got := <-res; !errors.Is(got.err, context.Canceled) {
			t.Errorf("Allocate = %v, %v; want context.Canceled", got.a, got.err)
		}
		if _, err := r.Grant(t.Context()); !errors.Is(err, ebb.ErrClosed) {
			t.Errorf("Grant of a cancelled request: %v, want ErrAnswered", err)
		}
		if st := p.Stats(); st.Allocs != 0 {
			t.Errorf("pool made %d allocs, want none for a cancelled request", st.Allocs)
		}
		if len(c.Pending()) != 0 {
			t.Errorf("Pending = %v, want none", c.Pending())
		}
	})
}

func TestNextInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		c, _ := newCluster(t)
		var results []<-chan result
		for i := range 3 {
			results = append(results, allocate(ctx, c, ebb.Requirements{Min: cpu(float64(i + 1))}, nil))
			synctest.Wait()
		}
		for i := range 3 {
			r, err := c.Next(ctx)
			if err != nil || !r.Want.Min.Equal(cpu(float64(i+1))) {
				t.Errorf("Next #%d = %v, %v; want %d cpu", i, r.Want, err, i+1)
			}
			r.Fail(ebb.ErrUnavailable)
		}
		for _, res := range results {
			if got := <-res; !errors.Is(got.err, ebb.ErrUnavailable) {
				t.Errorf("Allocate = %v, want ErrUnavailable", got.err)
			}
		}
		// Next waits for a request, until its context is done.
		ctx2, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() {
			_, err := c.Next(ctx2)
			errc <- err
		}()
		synctest.Wait()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Next with no request = %v, want context.Canceled", err)
		}
	})
}

func TestClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		c, _ := newCluster(t)
		res := allocate(ctx, c, ebb.Requirements{Min: cpu(1)}, nil)
		synctest.Wait()
		c.Close()
		if got := <-res; !errors.Is(got.err, ebb.ErrClosed) {
			t.Errorf("pending Allocate after Close = %v, want ErrClosed", got.err)
		}
		if _, err := c.Allocate(ctx, ebb.Requirements{Min: cpu(1)}, nil); !errors.Is(err, ebb.ErrClosed) {
			t.Errorf("Allocate after Close = %v, want ErrClosed", err)
		}
		// Next drains what arrived, then says closed.
		if r, err := c.Next(ctx); err != nil || !errors.Is(r.Fail(ebb.ErrUnavailable), ebb.ErrClosed) {
			t.Errorf("Next after Close = %v, %v; want the closed request", r, err)
		}
		if _, err := c.Next(ctx); !errors.Is(err, ebb.ErrClosed) {
			t.Errorf("Next after Close, drained = %v, want ErrClosed", err)
		}
	})
}

func TestAllocateInvalid(t *testing.T) {
	c, _ := newCluster(t)
	if _, err := c.Allocate(t.Context(), ebb.Requirements{Min: cpu(-1)}, nil); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("Allocate(-1 cpu) = %v, want ErrInvalid", err)
	}
	if len(c.Pending()) != 0 {
		t.Errorf("an invalid request is pending")
	}
}
