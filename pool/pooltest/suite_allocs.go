package pooltest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

func (s *suite) testFree(t *testing.T) {
	ctx := s.ctx(t)
	p := s.newPool(t)
	total := capacity(t, ctx, p)
	a := s.acceptPart(t, ctx, p, 0.5)
	e := put(t, ctx, a, execID("blocked until Free"), s.block(a.Resources().Scale(0.5)))
	waitc := waitAsync(ctx, e)

	if err := a.Free(ctx); err != nil {
		t.Fatalf("Free of alloc %s with a running exec: %v", a.ID(), err)
	}
	// Free waits for the execs to be gone, so Wait returns at once; the
	// timeout only keeps a broken pool from hanging the test.
	select {
	case w := <-waitc:
		checkKilled(t, w, "after Free")
	case <-ctx.Done():
		t.Fatalf("after Free: the running exec's Wait did not return within %v", s.Timeout)
	}
	checkOffered(t, ctx, p, total, "after Free")
	s.gone(t, ctx, p, a, "after Free")
}

func (s *suite) testAllocs(t *testing.T) {
	ctx := s.ctx(t)
	p := s.newPool(t)
	a1 := s.acceptPart(t, ctx, p, 0.25)
	a2 := s.acceptPart(t, ctx, p, 0.25)
	if a1.ID() == a2.ID() {
		t.Fatalf("two allocs have the same ID %q", a1.ID())
	}
	if got, want := allocIDs(t, ctx, p), sortedIDs(a1.ID(), a2.ID()); !slices.Equal(got, want) {
		t.Errorf("Allocs = %q, want %q", got, want)
	}
	for _, a := range []pool.Alloc{a1, a2} {
		got, err := p.Alloc(ctx, a.ID())
		if err != nil {
			t.Errorf("Pool.Alloc(%q) of a live alloc: %v", a.ID(), err)
			continue
		}
		if got.ID() != a.ID() || !same(got.Resources(), a.Resources()) {
			t.Errorf("Pool.Alloc(%q) = alloc %q holding %s, want alloc %q holding %s", a.ID(), got.ID(), show(got.Resources()), a.ID(), show(a.Resources()))
		}
		checkPool(t, got, p, fmt.Sprintf("Pool.Alloc(%q)", a.ID()))
	}

	// A re-attached handle is the same alloc: an exec put through one is
	// found through the other.
	again, err := p.Alloc(ctx, a1.ID())
	if err != nil {
		t.Fatalf("Pool.Alloc(%q): %v", a1.ID(), err)
	}
	id := execID("through a re-attached handle")
	mustWait(t, ctx, put(t, ctx, again, id, s.succeed(nil)))
	if _, err := a1.Exec(ctx, id); err != nil {
		t.Errorf("Exec(%.19s…) through the first handle of alloc %s, after Put through a re-attached one: %v", id, a1.ID(), err)
	}

	const unknown = "pooltest-no-such-alloc"
	if _, err := p.Alloc(ctx, unknown); !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("Pool.Alloc(%q): %v, want an error wrapping ebb.ErrNotExist", unknown, err)
	}
	if err := a1.Free(ctx); err != nil {
		t.Fatalf("Free of alloc %s: %v", a1.ID(), err)
	}
	if _, err := p.Alloc(ctx, a1.ID()); !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("Pool.Alloc(%q) of a freed alloc: %v, want an error wrapping ebb.ErrNotExist", a1.ID(), err)
	}
	if got, want := allocIDs(t, ctx, p), []string{a2.ID()}; !slices.Equal(got, want) {
		t.Errorf("Allocs after freeing %s = %q, want %q", a1.ID(), got, want)
	}
}
