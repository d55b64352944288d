package pool_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
)

func cpus(n float64) ebb.Resources { return ebb.Resources{ebb.CPU: n} }

func newPool(t *testing.T, nodes ...ebb.Resources) *pooltest.Pool {
	p := pooltest.NewPool(pooltest.PoolConfig{Nodes: nodes})
	t.Cleanup(func() { p.Close() })
	return p
}

func TestAllocateBestFit(t *testing.T) {
	p := newPool(t, cpus(16), cpus(4), cpus(8))
	a, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: cpus(3), Width: 2}, ebb.Labels{"run": "x"})
	if err != nil {
		t.Fatal(err)
	}
	// The smallest node that holds Min is the 4-cpu one; the alloc takes
	// as many whole units of Min (3) as fit there: one.
	if got := a.Resources(); !got.Equal(cpus(3)) {
		t.Errorf("alloc holds %v, want 3 cpu (best fit, whole units)", got)
	}
	in, err := a.Inspect(t.Context())
	if err != nil || in.Meta.Labels["run"] != "x" {
		t.Errorf("Inspect = %+v, %v; want the labels kept", in.Meta, err)
	}
	b, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: cpus(5)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Resources(); !got.Equal(cpus(5)) {
		t.Errorf("second alloc holds %v, want 5 cpu", got)
	}
	// Best fit picks the smallest offer that holds Min, even if a bigger
	// one would hold more units: the 3 cpu left on the 8-cpu node hold
	// one unit of 2.
	c, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: cpus(2), Width: 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Resources(); !got.Equal(cpus(2)) {
		t.Errorf("third alloc holds %v, want 2 cpu", got)
	}
}

func TestAllocateNeverFits(t *testing.T) {
	p := newPool(t, cpus(4), cpus(8))
	_, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: cpus(9)}, nil)
	if !errors.Is(err, ebb.ErrResources) {
		t.Errorf("Allocate beyond every node = %v, want ErrResources at once", err)
	}
	_, err = pool.Allocate(t.Context(), p, ebb.Requirements{Min: ebb.Resources{ebb.GPU: 1}}, nil)
	if !errors.Is(err, ebb.ErrResources) {
		t.Errorf("Allocate of a key no node has = %v, want ErrResources", err)
	}
	_, err = pool.Allocate(t.Context(), p, ebb.Requirements{Min: cpus(-1)}, nil)
	if !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("Allocate of negative cpu = %v, want ErrInvalid", err)
	}
}

// Allocate waits while the pool is full, and takes the capacity once it is
// freed.
func TestAllocateWaitsForCapacity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pooltest.NewPool(pooltest.PoolConfig{Nodes: []ebb.Resources{cpus(4)}, Lease: 24 * time.Hour})
		defer p.Close()
		first, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: cpus(4)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan pool.Alloc)
		go func() {
			a, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: cpus(2)}, nil)
			if err != nil {
				t.Error(err)
			}
			got <- a
		}()
		time.Sleep(10 * time.Minute) // fake time: the waiter keeps asking
		synctest.Wait()
		select {
		case a := <-got:
			t.Fatalf("Allocate granted %v while the pool was full", a.Resources())
		default:
		}
		freed := time.Now()
		if err := first.Free(t.Context()); err != nil {
			t.Fatal(err)
		}
		a := <-got
		if wait := time.Since(freed); wait > time.Second {
			t.Errorf("granted %v after the free, want within the 1s max wait", wait)
		}
		if !a.Resources().Equal(cpus(2)) {
			t.Errorf("alloc holds %v", a.Resources())
		}

		// A cancelled wait takes nothing.
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		if _, err := pool.Allocate(ctx, p, ebb.Requirements{Min: cpus(4)}, nil); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Allocate past its deadline = %v", err)
		}
		if allocs, _ := p.Allocs(t.Context()); len(allocs) != 1 {
			t.Errorf("%d allocs, want 1", len(allocs))
		}
	})
}

// Many clients racing for one pool each get an alloc or wait; none is
// granted beyond capacity and every lost race is retried.
func TestAllocateRace(t *testing.T) {
	p := newPool(t, cpus(8))
	var wg sync.WaitGroup
	allocs := make(chan pool.Alloc, 8)
	for range 8 {
		wg.Go(func() {
			a, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: cpus(1)}, nil)
			if err != nil {
				t.Error(err)
				return
			}
			allocs <- a
		})
	}
	wg.Wait()
	close(allocs)
	total := ebb.Resources{}
	for a := range allocs {
		total = total.Add(a.Resources())
	}
	if !total.Equal(cpus(8)) {
		t.Errorf("8 clients hold %v in all, want 8 cpu", total)
	}
	if st := p.Stats(); st.Allocs != 8 {
		t.Errorf("%d allocs accepted, want 8", st.Allocs)
	}
}

func TestAllocateRetriesTransientErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, cpus(4))
		p.FailNext(pooltest.OpOffers, fmt.Errorf("network blip: %w", ebb.ErrUnavailable))
		p.FailNext(pooltest.OpAccept, fmt.Errorf("lost it: %w", ebb.ErrOfferGone))
		if _, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: cpus(1)}, nil); err != nil {
			t.Fatalf("Allocate after transient errors: %v", err)
		}
		p.FailNext(pooltest.OpAccept, fmt.Errorf("bad request: %w", ebb.ErrInvalid))
		if _, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: cpus(1)}, nil); !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("Allocate after a fatal error = %v, want it returned", err)
		}
	})
}

func ExampleAllocate() {
	ctx := context.Background()
	// A pool of two nodes; pool/local would be this machine.
	p := pooltest.NewPool(pooltest.PoolConfig{Nodes: []ebb.Resources{
		{ebb.CPU: 16, ebb.Mem: 64 << 30},
		{ebb.CPU: 4, ebb.Mem: 16 << 30},
	}})
	defer p.Close()

	// Two cores and 4 GiB at least; up to four times that if there is room.
	req := ebb.Requirements{Min: ebb.Resources{ebb.CPU: 2, ebb.Mem: 4 << 30}, Width: 4}
	a, err := pool.Allocate(ctx, p, req, ebb.Labels{"program": "align"})
	if err != nil {
		panic(err)
	}
	defer a.Free(ctx)
	fmt.Println("took", a.Resources())

	_, err = pool.Allocate(ctx, p, ebb.Requirements{Min: ebb.Resources{ebb.GPU: 1}}, nil)
	fmt.Println(errors.Is(err, ebb.ErrResources))
	// Output:
	// took 4 cpu, 8.0 GiB mem
	// true
}
