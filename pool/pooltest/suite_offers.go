package pooltest

import (
	"errors"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

func (s *suite) testCapacity(t *testing.T) {
	ctx := s.ctx(t)
	p := s.newPool(t)
	if p.ID() == "" {
		t.Error("ID() is empty")
	}
	caps, err := p.Capacity(ctx)
	if err != nil {
		t.Fatalf("Capacity: %v", err)
	}
	if len(caps) == 0 {
		t.Fatal("Capacity: no nodes, want at least one")
	}
	var total ebb.Resources
	for i, r := range caps {
		if err := r.Validate(); err != nil {
			t.Errorf("Capacity()[%d] = %s: %v", i, show(r), err)
		}
		if r.IsZero() {
			t.Errorf("Capacity()[%d] is empty, want a node with resources", i)
		}
		total = total.Add(r)
	}

	// The caller owns the result: writing to it changes nothing.
	want := make([]ebb.Resources, len(caps))
	for i, r := range caps {
		want[i] = r.Clone()
		if r != nil {
			r["pooltest-scribble"] = 1
		}
	}
	again, err := p.Capacity(ctx)
	if err != nil {
		t.Fatalf("second Capacity: %v", err)
	}
	if !slices.EqualFunc(again, want, same) {
		t.Errorf("Capacity after the caller wrote to the first result's maps = %v, want %v", again, want)
	}

	offers, err := p.Offers(ctx)
	if err != nil {
		t.Fatalf("Offers: %v", err)
	}
	if len(offers) > len(caps) {
		t.Errorf("Offers: %d offers from %d nodes, want at most one per node", len(offers), len(caps))
	}
	ids := make(map[string]bool)
	for _, o := range offers {
		switch {
		case o.ID() == "":
			t.Errorf("Offers: an offer of %s has an empty ID", show(o.Available()))
		case ids[o.ID()]:
			t.Errorf("Offers: ID %q given twice", o.ID())
		}
		ids[o.ID()] = true
		avail := o.Available()
		if err := avail.Validate(); err != nil {
			t.Errorf("offer %s: Available() = %s: %v", o.ID(), show(avail), err)
		}
		if !slices.ContainsFunc(caps, avail.Fits) {
			t.Errorf("offer %s: Available() = %s fits no node of Capacity %v", o.ID(), show(avail), caps)
		}
	}
	checkOffered(t, ctx, p, total, "in a fresh pool")
	if ids := allocIDs(t, ctx, p); len(ids) > 0 {
		t.Errorf("Allocs of a fresh pool = %q, want none", ids)
	}
}

func (s *suite) testOffers(t *testing.T) {
	ctx := s.ctx(t)
	p := s.newPool(t)
	total := capacity(t, ctx, p)
	checkOffered(t, ctx, p, total, "before any Accept")

	o := biggest(t, ctx, p)
	avail := o.Available()
	if mine := o.Available(); mine != nil {
		mine["pooltest-scribble"] = 1
	}
	if got := o.Available(); !same(got, avail) {
		t.Errorf("offer %s: Available() after the caller wrote to an earlier result = %s, want %s", o.ID(), show(got), show(avail))
	}

	a1 := s.accept(t, ctx, o, want(avail.Scale(0.5), 0))
	r1 := a1.Resources()
	checkOffered(t, ctx, p, total.Sub(r1), "after accepting "+show(r1))

	o2 := biggest(t, ctx, p)
	a2 := s.accept(t, ctx, o2, want(o2.Available().Scale(0.25), 0))
	r2 := a2.Resources()
	checkOffered(t, ctx, p, total.Sub(r1).Sub(r2), "after accepting "+show(r1)+" and "+show(r2))

	if err := a1.Free(ctx); err != nil {
		t.Fatalf("Free of alloc %s: %v", a1.ID(), err)
	}
	checkOffered(t, ctx, p, total.Sub(r2), "after freeing "+show(r1))
	if err := a2.Free(ctx); err != nil {
		t.Fatalf("Free of alloc %s: %v", a2.ID(), err)
	}
	checkOffered(t, ctx, p, total, "after freeing both allocs")
}

func (s *suite) testAcceptGrant(t *testing.T) {
	for _, c := range []struct {
		name string
		want func(avail ebb.Resources) ebb.Requirements
	}{
		{"min only", func(a ebb.Resources) ebb.Requirements {
			return ebb.Requirements{Min: a.Scale(0.5)}
		}},
		{"width 1", func(a ebb.Resources) ebb.Requirements {
			return ebb.Requirements{Min: a.Scale(0.5), Width: 1}
		}},
		{"width 2", func(a ebb.Resources) ebb.Requirements {
			return ebb.Requirements{Min: a.Scale(0.25), Width: 2}
		}},
		{"more units than fit", func(a ebb.Resources) ebb.Requirements {
			return ebb.Requirements{Min: a.Scale(0.25), Width: 8}
		}},
		{"one key limits the units", func(a ebb.Resources) ebb.Requirements {
			k := a.Keys()[0]
			return ebb.Requirements{Min: ebb.Resources{k: a[k] / 2}, Width: 3}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := s.ctx(t)
			p := s.newPool(t)
			total := capacity(t, ctx, p)
			o := biggest(t, ctx, p)
			avail := o.Available()
			meta := pool.AllocMeta{
				Want:   c.want(avail),
				Owner:  "pooltest grant",
				Labels: ebb.Labels{"pooltest-case": c.name},
			}
			granted, _ := pool.Grant(avail, meta.Want)
			a := s.accept(t, ctx, o, meta)
			if got := a.Resources(); !same(got, granted) {
				t.Errorf("Accept(want %v) of an offer of %s: the alloc holds %s, want %s (pool.Grant)", meta.Want, show(avail), show(got), show(granted))
			}
			if mine := a.Resources(); mine != nil {
				mine["pooltest-scribble"] = 1
			}
			if got := a.Resources(); !same(got, granted) {
				t.Errorf("Resources() after the caller wrote to an earlier result = %s, want %s", show(got), show(granted))
			}
			checkPool(t, a, p, "Accept")
			in, err := a.Inspect(ctx)
			if err != nil {
				t.Fatalf("Inspect of alloc %s: %v", a.ID(), err)
			}
			if in.ID != a.ID() || in.Pool != p.ID() || !same(in.Resources, granted) {
				t.Errorf("Inspect = {ID: %q, Pool: %q, Resources: %s}, want {ID: %q, Pool: %q, Resources: %s}", in.ID, in.Pool, show(in.Resources), a.ID(), p.ID(), show(granted))
			}
			if !in.Meta.Want.Equal(meta.Want) || in.Meta.Owner != meta.Owner || in.Meta.Labels.String() != meta.Labels.String() {
				t.Errorf("Inspect().Meta = %+v, want %+v", in.Meta, meta)
			}
			checkOffered(t, ctx, p, total.Sub(granted), "after accepting "+show(granted))
		})
	}
}

func (s *suite) testAcceptRace(t *testing.T) {
	const n = 50
	ctx := s.ctx(t)
	p := s.newPool(t)
	total := capacity(t, ctx, p)
	o := biggest(t, ctx, p)
	// A quarter, so that a pool that ignored the race would grant several.
	meta := want(o.Available().Scale(0.25), 0)

	var (
		wg     sync.WaitGroup
		start  = make(chan struct{})
		allocs = make([]pool.Alloc, n)
		errs   = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			allocs[i], errs[i] = protect(func() (pool.Alloc, error) { return o.Accept(ctx, meta) })
		})
	}
	close(start)
	wg.Wait()

	var won []pool.Alloc
	held := ebb.Resources{}
	for i, err := range errs {
		switch {
		case err == nil:
			s.freeLater(t, allocs[i])
			won = append(won, allocs[i])
			held = held.Add(allocs[i].Resources())
		case !errors.Is(err, ebb.ErrOfferGone):
			t.Errorf("Accept %d of %d concurrent Accepts of offer %s: %v, want an error wrapping ebb.ErrOfferGone", i, n, o.ID(), err)
		}
	}
	if len(won) != 1 {
		t.Errorf("%d concurrent Accepts(want %v) of offer %s (%s): %d succeeded, want exactly 1", n, meta.Want, o.ID(), show(o.Available()), len(won))
	}
	if ids := allocIDs(t, ctx, p); len(ids) != len(won) || len(ids) != 1 {
		t.Errorf("Allocs after the race = %q, want the one winner", ids)
	}
	checkOffered(t, ctx, p, total.Sub(held), "after the race")
}

func (s *suite) testAcceptStale(t *testing.T) {
	ctx := s.ctx(t)
	p := s.newPool(t)
	o := biggest(t, ctx, p)
	meta := want(o.Available().Scale(0.25), 0)
	s.accept(t, ctx, o, meta)
	if a, err := o.Accept(ctx, meta); !errors.Is(err, ebb.ErrOfferGone) {
		if err == nil {
			s.freeLater(t, a)
		}
		t.Errorf("second Accept(want %v) of offer %s: %v, want an error wrapping ebb.ErrOfferGone", meta.Want, o.ID(), err)
	}
	offers, err := p.Offers(ctx)
	if err != nil {
		t.Fatalf("Offers: %v", err)
	}
	for _, o2 := range offers {
		if o2.ID() == o.ID() {
			t.Errorf("after Accept took from offer %s, Offers still gives an offer with its ID (now %s); an offer's ID must change when what it offers does", o.ID(), show(o2.Available()))
		}
	}
}

func (s *suite) testAcceptTooBig(t *testing.T) {
	ctx := s.ctx(t)
	p := s.newPool(t)
	before := offered(t, ctx, p)
	o := biggest(t, ctx, p)
	avail := o.Available()
	for _, min := range []ebb.Resources{
		avail.Scale(2),
		avail.Scale(0.5).Add(ebb.Resources{"pooltest-unobtainium": 1}),
	} {
		meta := want(min, 0)
		a, err := protect(func() (pool.Alloc, error) { return o.Accept(ctx, meta) })
		if err == nil {
			s.freeLater(t, a)
		}
		if !errors.Is(err, ebb.ErrResources) {
			t.Errorf("Accept(want %s) of offer %s of %s: %v, want an error wrapping ebb.ErrResources", show(min), o.ID(), show(avail), err)
		}
	}
	if ids := allocIDs(t, ctx, p); len(ids) > 0 {
		t.Errorf("Allocs after failed Accepts = %q, want none", ids)
	}
	checkOffered(t, ctx, p, before, "after failed Accepts")
	// Nothing changed, so the offer is still good.
	s.accept(t, ctx, o, want(avail.Scale(0.5), 0))
}

func (s *suite) testAcceptInvalid(t *testing.T) {
	ctx := s.ctx(t)
	p := s.newPool(t)
	before := offered(t, ctx, p)
	o := biggest(t, ctx, p)
	part := o.Available().Scale(0.25)
	for _, c := range []struct {
		name string
		meta pool.AllocMeta
	}{
		{"NaN min", want(ebb.Resources{ebb.CPU: math.NaN()}, 0)},
		{"negative min", want(ebb.Resources{ebb.CPU: -1}, 0)},
		{"infinite min", want(ebb.Resources{ebb.CPU: math.Inf(1)}, 0)},
		{"bad resource key", want(ebb.Resources{"CPU": 1}, 0)},
		{"negative width", want(part, -1)},
		{"empty label key", pool.AllocMeta{Want: ebb.Requirements{Min: part}, Labels: ebb.Labels{"": "x"}}},
		{"label value with a comma", pool.AllocMeta{Want: ebb.Requirements{Min: part}, Labels: ebb.Labels{"k": "a,b"}}},
	} {
		a, err := protect(func() (pool.Alloc, error) { return o.Accept(ctx, c.meta) })
		if err == nil {
			s.freeLater(t, a)
		}
		if !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("%s: Accept(%+v): %v, want an error wrapping ebb.ErrInvalid", c.name, c.meta, err)
		}
	}
	if ids := allocIDs(t, ctx, p); len(ids) > 0 {
		t.Errorf("Allocs after invalid Accepts = %q, want none", ids)
	}
	checkOffered(t, ctx, p, before, "after invalid Accepts")
}
