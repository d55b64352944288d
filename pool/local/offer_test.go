package local

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

func offered(t *testing.T, p *Pool) ebb.Resources {
	t.Helper()
	offers, err := p.Offers(context.Background())
	if err != nil {
		t.Fatalf("Offers: %v", err)
	}
	switch len(offers) {
	case 0:
		return nil
	case 1:
		return offers[0].Available()
	}
	t.Fatalf("Offers = %d offers, want at most 1", len(offers))
	return nil
}

func TestOffersShrinkAndGrow(t *testing.T) {
	ctx := context.Background()
	p := newPool(t, Config{Resources: ebb.Resources{ebb.CPU: 4, ebb.Mem: 8 << 30}})
	if got, want := offered(t, p), (ebb.Resources{ebb.CPU: 4, ebb.Mem: 8 << 30}); !got.Equal(want) {
		t.Fatalf("offer before accept = %s, want %s", got, want)
	}
	a := accept(t, p, ebb.Resources{ebb.CPU: 1, ebb.Mem: 2 << 30})
	if got, want := offered(t, p), (ebb.Resources{ebb.CPU: 3, ebb.Mem: 6 << 30}); !got.Equal(want) {
		t.Errorf("offer after accepting 1 cpu, 2 GiB = %s, want %s", got, want)
	}
	b := accept(t, p, ebb.Resources{ebb.CPU: 3, ebb.Mem: 6 << 30})
	if got := offered(t, p); got != nil {
		t.Errorf("offer with everything taken = %s, want none", got)
	}
	if err := a.Free(ctx); err != nil {
		t.Fatalf("Free: %v", err)
	}
	if got, want := offered(t, p), (ebb.Resources{ebb.CPU: 1, ebb.Mem: 2 << 30}); !got.Equal(want) {
		t.Errorf("offer after free = %s, want %s", got, want)
	}
	if err := b.Free(ctx); err != nil {
		t.Fatalf("Free: %v", err)
	}
	if got, want := offered(t, p), (ebb.Resources{ebb.CPU: 4, ebb.Mem: 8 << 30}); !got.Equal(want) {
		t.Errorf("offer after freeing all = %s, want %s", got, want)
	}
}

// An alloc holds as many whole units of Min as fit: memory limits these to
// two, and no part of a third is taken.
func TestAcceptGrantsWholeUnits(t *testing.T) {
	p := newPool(t, Config{Resources: ebb.Resources{ebb.CPU: 4, ebb.Mem: 8 << 30}})
	offers, _ := p.Offers(context.Background())
	want := ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1, ebb.Mem: 3 << 30}, Width: 8}
	a, err := offers[0].Accept(context.Background(), pool.AllocMeta{Want: want})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := a.Resources(), (ebb.Resources{ebb.CPU: 2, ebb.Mem: 6 << 30}); !got.Equal(want) {
		t.Errorf("alloc from 4 cpu, 8 GiB = %s, want %s", got, want)
	}
}

func TestOfferIDChanges(t *testing.T) {
	ctx := context.Background()
	p := newPool(t, Config{})
	o1, _ := p.Offers(ctx)
	o2, _ := p.Offers(ctx)
	if o1[0].ID() != o2[0].ID() {
		t.Errorf("offer IDs with no change between them: %s, %s; want equal", o1[0].ID(), o2[0].ID())
	}
	a := accept(t, p, ebb.Resources{ebb.CPU: 1})
	o3, _ := p.Offers(ctx)
	if err := a.Free(ctx); err != nil {
		t.Fatal(err)
	}
	o4, _ := p.Offers(ctx)
	ids := map[string]bool{o1[0].ID(): true, o3[0].ID(): true, o4[0].ID(): true}
	if len(ids) != 3 {
		t.Errorf("offer IDs before accept, after accept, after free = %s, %s, %s; want all different", o1[0].ID(), o3[0].ID(), o4[0].ID())
	}
	// The first offer is stale though the pool is back where it was.
	_, err := o1[0].Accept(ctx, pool.AllocMeta{})
	if !errors.Is(err, ebb.ErrOfferGone) {
		t.Errorf("Accept of a stale offer: %v, want ErrOfferGone", err)
	}
}

func TestAcceptRace(t *testing.T) {
	ctx := context.Background()
	p := newPool(t, Config{})
	offers, err := p.Offers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	o := offers[0]
	const n = 50
	var (
		wg     sync.WaitGroup
		start  = make(chan struct{})
		allocs = make(chan pool.Alloc, n)
		errs   = make(chan error, n)
	)
	for range n {
		wg.Go(func() {
			<-start
			a, err := o.Accept(ctx, pool.AllocMeta{Want: ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}})
			if err != nil {
				errs <- err
				return
			}
			allocs <- a
		})
	}
	close(start)
	wg.Wait()
	close(allocs)
	close(errs)
	if got := len(allocs); got != 1 {
		t.Errorf("%d goroutines won the race for one offer, want 1", got)
	}
	for err := range errs {
		if !errors.Is(err, ebb.ErrOfferGone) {
			t.Errorf("loser's Accept: %v, want ErrOfferGone", err)
		}
	}
	all, _ := p.Allocs(ctx)
	if len(all) != 1 {
		t.Errorf("pool has %d allocs, want 1", len(all))
	}
}

func TestAcceptErrors(t *testing.T) {
	ctx := context.Background()
	p := newPool(t, Config{Resources: ebb.Resources{ebb.CPU: 2}})
	offers, _ := p.Offers(ctx)
	o := offers[0]
	for _, tc := range []struct {
		name    string
		meta    pool.AllocMeta
		want    error
		mention string
	}{
		{"too big", pool.AllocMeta{Want: ebb.Requirements{Min: ebb.Resources{ebb.CPU: 3}}}, ebb.ErrResources, "3 cpu"},
		{"custom key missing", pool.AllocMeta{Want: ebb.Requirements{Min: ebb.Resources{ebb.GPU: 1}}}, ebb.ErrResources, "gpu"},
		{"negative", pool.AllocMeta{Want: ebb.Requirements{Min: ebb.Resources{ebb.CPU: -1}}}, ebb.ErrInvalid, "cpu"},
		{"negative width", pool.AllocMeta{Want: ebb.Requirements{Width: -2}}, ebb.ErrInvalid, "width"},
		{"bad label", pool.AllocMeta{Labels: ebb.Labels{"a b": "c"}}, ebb.ErrInvalid, "label"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := o.Accept(ctx, tc.meta)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("Accept(%+v) = %v, %v; want an error of kind %v mentioning %q", tc.meta, a, err, tc.want, tc.mention)
			}
		})
	}
	// Failures took nothing: the same offer is still good.
	if _, err := o.Accept(ctx, pool.AllocMeta{Want: ebb.Requirements{Min: ebb.Resources{ebb.CPU: 2}}}); err != nil {
		t.Errorf("Accept after failed accepts: %v", err)
	}
}
