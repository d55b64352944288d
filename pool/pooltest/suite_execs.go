package pooltest

import (
	"errors"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

func (s *suite) testPutIdempotent(t *testing.T) {
	ctx := s.ctx(t)
	p := s.newPool(t)
	a := s.acceptPart(t, ctx, p, 0.5)

	// A finished exec is returned, not run again.
	var runs atomic.Int64
	done := execID("idempotent, finished")
	cfg, counts := counting(s.succeed(nil), &runs)
	r1 := mustWait(t, ctx, put(t, ctx, a, done, cfg))
	second := put(t, ctx, a, done, cfg)
	if in, err := second.Inspect(ctx); err != nil || in.State != pool.ExecDone {
		t.Errorf("second Put(%.19s…) of a finished exec: Inspect = state %q, %v; want the finished exec, state %q", done, in.State, err, pool.ExecDone)
	}
	r2 := mustWait(t, ctx, second)
	if !r2.Start.Equal(r1.Start) || r2.ExitCode != r1.ExitCode || r2.Error != r1.Error {
		t.Errorf("second Put(%.19s…): Wait = %s started %v, want the first run's %s started %v", done, showResult(r2), r2.Start, showResult(r1), r1.Start)
	}
	if n := runs.Load(); counts && n != 1 {
		t.Errorf("after two Puts of %.19s…, its Func ran %d times, want once", done, n)
	}

	// A running exec is returned whatever the second cfg says: killing
	// what the second Put returned kills what the first started.
	running := execID("idempotent, running")
	first := put(t, ctx, a, running, s.block(nil))
	other := put(t, ctx, a, running, s.fail(nil))
	if err := other.Kill(ctx); err != nil {
		t.Errorf("Kill of the exec a second Put(%.19s…) returned: %v", running, err)
	}
	if r := mustWait(t, ctx, other); !r.Killed {
		t.Errorf("second Put(%.19s…, a failing cfg) while the first still ran, then Kill: Wait = %s, want the first exec's Killed result", running, showResult(r))
	} else if r := mustWait(t, ctx, first); !r.Killed {
		t.Errorf("Kill through a second Put's handle: the first handle's Wait = %s, want Killed", showResult(r))
	}
	if got, want := execIDs(t, ctx, a), sortedIDs(done, running); !slices.Equal(got, want) {
		t.Errorf("Execs after putting two IDs twice each = %.19s, want %.19s", got, want)
	}
}

func (s *suite) testPutConcurrent(t *testing.T) {
	const n = 20
	ctx := s.ctx(t)
	p := s.newPool(t)
	a := s.acceptPart(t, ctx, p, 0.5)
	id := execID("concurrent")
	var runs atomic.Int64
	cfg, counts := counting(s.succeed(nil), &runs)

	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		execs = make([]pool.Exec, n)
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			execs[i], errs[i] = protect(func() (pool.Exec, error) { return a.Put(ctx, id, cfg) })
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Put %d of %d concurrent Puts of %.19s…: %v", i, n, id, err)
			continue
		}
		mustWait(t, ctx, execs[i])
	}
	if got := execIDs(t, ctx, a); !slices.Equal(got, []pool.ExecID{id}) {
		t.Errorf("Execs after %d concurrent Puts of one ID = %.19s, want just it", n, got)
	}
	if k := runs.Load(); counts && k != 1 {
		t.Errorf("%d concurrent Puts of %.19s… ran its Func %d times, want once", n, id, k)
	}
}

func (s *suite) testPutResources(t *testing.T) {
	ctx := s.ctx(t)
	p := s.newPool(t)
	a := s.acceptPart(t, ctx, p, 0.5)
	held := a.Resources()
	if held.IsZero() {
		t.Fatalf("alloc %s holds nothing; want half the biggest offer", a.ID())
	}
	refuse := func(id pool.ExecID, res ebb.Resources, when string) {
		t.Helper()
		e, err := protect(func() (pool.Exec, error) { return a.Put(ctx, id, s.block(res)) })
		if err == nil {
			t.Errorf("%s: Put of an exec needing %s in alloc %s holding %s succeeded, want an error wrapping ebb.ErrResources", when, show(res), a.ID(), show(held))
			e.Kill(ctx)
			return
		}
		if !errors.Is(err, ebb.ErrResources) {
			t.Errorf("%s: Put of an exec needing %s in alloc %s holding %s: %v, want an error wrapping ebb.ErrResources", when, show(res), a.ID(), show(held), err)
		}
		if _, err := a.Exec(ctx, id); !errors.Is(err, ebb.ErrNotExist) {
			t.Errorf("%s: Exec(%.19s…) after its Put was refused: %v, want an error wrapping ebb.ErrNotExist", when, id, err)
		}
	}
	refuse(execID("twice the alloc"), held.Scale(2), "in an idle alloc")

	big := put(t, ctx, a, execID("three quarters"), s.block(held.Scale(0.75)))
	half := execID("half")
	refuse(half, held.Scale(0.5), "while an exec holds three quarters")
	if err := big.Kill(ctx); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	mustWait(t, ctx, big)

	// Once it has finished, the second fits, and with another half
	// fills the alloc exactly.
	e1 := put(t, ctx, a, half, s.block(held.Scale(0.5)))
	e2 := put(t, ctx, a, execID("other half"), s.block(held.Scale(0.5)))
	refuse(execID("a hundredth"), held.Scale(0.01), "while two execs hold it all")
	for _, e := range []pool.Exec{e1, e2} {
		if err := e.Kill(ctx); err != nil {
			t.Fatalf("Kill: %v", err)
		}
		mustWait(t, ctx, e)
	}
}

func (s *suite) testPutInvalid(t *testing.T) {
	ctx := s.ctx(t)
	p := s.newPool(t)
	a := s.acceptPart(t, ctx, p, 0.5)
	with := func(f func(c *pool.ExecConfig)) pool.ExecConfig {
		c := s.succeed(nil)
		f(&c)
		return c
	}
	goodDigest := digest.FromString("pooltest input")
	for _, c := range []struct {
		name  string
		badID bool // use id instead of a good one
		id    pool.ExecID
		cfg   pool.ExecConfig
	}{
		{name: "empty argv and no func", cfg: pool.ExecConfig{}},
		{name: "empty argv[0]", cfg: pool.ExecConfig{Argv: []string{"", "x"}}},
		{name: "argv and func", cfg: pool.ExecConfig{Argv: []string{"true"}, Func: succeedFunc}},
		{name: "env without =", cfg: with(func(c *pool.ExecConfig) { c.Env = []string{"PATH"} })},
		{name: "env with empty key", cfg: with(func(c *pool.ExecConfig) { c.Env = []string{"=x"} })},
		{name: "NaN resources", cfg: with(func(c *pool.ExecConfig) { c.Resources = ebb.Resources{ebb.CPU: math.NaN()} })},
		{name: "negative resources", cfg: with(func(c *pool.ExecConfig) { c.Resources = ebb.Resources{ebb.CPU: -1} })},
		{name: "bad resource key", cfg: with(func(c *pool.ExecConfig) { c.Resources = ebb.Resources{"CPU": 0.001} })},
		{name: "absolute output", cfg: with(func(c *pool.ExecConfig) { c.Outputs = []string{"/tmp/out"} })},
		{name: "output outside the work dir", cfg: with(func(c *pool.ExecConfig) { c.Outputs = []string{"../out"} })},
		{name: "empty output name", cfg: with(func(c *pool.ExecConfig) { c.Outputs = []string{""} })},
		{name: "absolute input", cfg: with(func(c *pool.ExecConfig) { c.Inputs = map[string]digest.Digest{"/etc/in": goodDigest} })},
		{name: "invalid input digest", cfg: with(func(c *pool.ExecConfig) { c.Inputs = map[string]digest.Digest{"in": "sha256:not-hex"} })},
		{name: "empty exec id", badID: true, id: "", cfg: s.succeed(nil)},
		{name: "malformed exec id", badID: true, id: "not-a-digest", cfg: s.succeed(nil)},
		{name: "truncated exec id", badID: true, id: "sha256:abc", cfg: s.succeed(nil)},
	} {
		id := c.id
		if !c.badID {
			id = execID("invalid: " + c.name)
		}
		e, err := protect(func() (pool.Exec, error) { return a.Put(ctx, id, c.cfg) })
		if err == nil {
			e.Kill(ctx)
		}
		if !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("%s: Put(%q, %+v): %v, want an error wrapping ebb.ErrInvalid", c.name, id, c.cfg, err)
		}
	}
	if got := execIDs(t, ctx, a); len(got) > 0 {
		t.Errorf("Execs after invalid Puts = %q, want none", got)
	}
	live(t, ctx, p, a, "after invalid Puts")
}

func (s *suite) testExecs(t *testing.T) {
	ctx := s.ctx(t)
	p := s.newPool(t)
	a := s.acceptPart(t, ctx, p, 0.5)
	idA, idB := execID("execs: finished"), execID("execs: running")
	mustWait(t, ctx, put(t, ctx, a, idA, s.succeed(nil)))
	b := put(t, ctx, a, idB, s.block(a.Resources().Scale(0.5)))

	if e, err := a.Exec(ctx, idA); err != nil || e.ID() != idA {
		t.Errorf("Exec(%.19s…) = %v, %v; want the exec", idA, e, err)
	}
	if got, want := execIDs(t, ctx, a), sortedIDs(idA, idB); !slices.Equal(got, want) {
		t.Errorf("Execs = %.19s, want %.19s", got, want)
	}
	unknown := execID("execs: never put")
	if _, err := a.Exec(ctx, unknown); !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("Exec(%.19s…) of an ID never put: %v, want an error wrapping ebb.ErrNotExist", unknown, err)
	}
	if err := a.Remove(ctx, unknown); !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("Remove(%.19s…) of an ID never put: %v, want an error wrapping ebb.ErrNotExist", unknown, err)
	}

	if err := a.Remove(ctx, idA); err != nil {
		t.Errorf("Remove(%.19s…) of a finished exec: %v", idA, err)
	}
	if _, err := a.Exec(ctx, idA); !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("Exec(%.19s…) after Remove: %v, want an error wrapping ebb.ErrNotExist", idA, err)
	}
	if got, want := execIDs(t, ctx, a), []pool.ExecID{idB}; !slices.Equal(got, want) {
		t.Errorf("Execs after removing one = %.19s, want %.19s", got, want)
	}

	// Removing a running exec kills it first.
	waitc := waitAsync(ctx, b)
	if err := a.Remove(ctx, idB); err != nil {
		t.Errorf("Remove(%.19s…) of a running exec: %v", idB, err)
	}
	select {
	case w := <-waitc:
		if w.err != nil && !errors.Is(w.err, ebb.ErrNotExist) {
			t.Errorf("Wait of a running exec after its Remove: %v, want a Killed result or ebb.ErrNotExist", w.err)
		} else if w.err == nil && !w.res.Killed {
			t.Errorf("Wait of a running exec after its Remove = %s, want a Killed result or ebb.ErrNotExist", showResult(w.res))
		}
	case <-ctx.Done():
		t.Fatalf("Wait of a running exec did not return within %v of its Remove", s.Timeout)
	}
	if got := execIDs(t, ctx, a); len(got) > 0 {
		t.Errorf("Execs after removing both = %.19s, want none", got)
	}
	if in, err := a.Inspect(ctx); err != nil || in.Running != 0 || !same(in.Busy, nil) {
		t.Errorf("Inspect after removing every exec = Running %d, Busy %s, %v; want 0 and {}", in.Running, show(in.Busy), err)
	}

	// A removed ID can be put again, and runs again.
	var runs atomic.Int64
	cfg, counts := counting(s.succeed(nil), &runs)
	if r := mustWait(t, ctx, put(t, ctx, a, idA, cfg)); !r.OK() {
		t.Errorf("Put(%.19s…) again after Remove: Wait = %s, want success", idA, showResult(r))
	}
	if n := runs.Load(); counts && n != 1 {
		t.Errorf("Put(%.19s…) again after Remove ran its Func %d times, want once", idA, n)
	}
}

func (s *suite) testInspect(t *testing.T) {
	ctx := s.ctx(t)
	p := s.newPool(t)
	o := biggest(t, ctx, p)
	meta := pool.AllocMeta{
		Want:   ebb.Requirements{Min: o.Available().Scale(0.5)},
		Owner:  "pooltest inspect",
		Labels: ebb.Labels{"pooltest": "inspect"},
	}
	a := s.accept(t, ctx, o, meta)
	held := a.Resources()
	check := func(running int, busy ebb.Resources, when string) {
		t.Helper()
		in, err := a.Inspect(ctx)
		if err != nil {
			t.Fatalf("%s: Inspect: %v", when, err)
		}
		if in.Running != running || !same(in.Busy, busy) {
			t.Errorf("%s: Inspect = Running %d, Busy %s; want Running %d, Busy %s", when, in.Running, show(in.Busy), running, show(busy))
		}
	}

	in, err := a.Inspect(ctx)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if in.ID != a.ID() || in.Pool != p.ID() || !same(in.Resources, held) {
		t.Errorf("Inspect = {ID: %q, Pool: %q, Resources: %s}, want {ID: %q, Pool: %q, Resources: %s}", in.ID, in.Pool, show(in.Resources), a.ID(), p.ID(), show(held))
	}
	if in.Meta.Owner != meta.Owner || in.Meta.Labels.String() != meta.Labels.String() {
		t.Errorf("Inspect().Meta = {Owner: %q, Labels: %v}, want {Owner: %q, Labels: %v}", in.Meta.Owner, in.Meta.Labels, meta.Owner, meta.Labels)
	}
	if in.Created.IsZero() || !in.Expires.After(in.Created) {
		t.Errorf("Inspect = {Created: %v, Expires: %v}, want an expiry after the creation", in.Created, in.Expires)
	}
	check(0, nil, "with no execs")

	e1 := put(t, ctx, a, execID("inspect: half"), s.block(held.Scale(0.5)))
	check(1, held.Scale(0.5), "with an exec holding half")
	if in, err := e1.Inspect(ctx); err != nil || in.ID != e1.ID() || in.State != pool.ExecRunning || !same(in.Resources, held.Scale(0.5)) || in.Result != nil {
		t.Errorf("Inspect of a running exec = {ID: %.19s…, State: %q, Resources: %s, Result: %v}, %v; want {ID: %.19s…, State: %q, Resources: %s, Result: nil}",
			in.ID, in.State, show(in.Resources), in.Result, err, e1.ID(), pool.ExecRunning, show(held.Scale(0.5)))
	}
	e2 := put(t, ctx, a, execID("inspect: quarter"), s.block(held.Scale(0.25)))
	check(2, held.Scale(0.75), "with execs holding a half and a quarter")

	if err := e1.Kill(ctx); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	mustWait(t, ctx, e1)
	check(1, held.Scale(0.25), "after the half finished")
	if in, err := e1.Inspect(ctx); err != nil || in.State != pool.ExecDone || in.Result == nil || !in.Result.Killed {
		t.Errorf("Inspect of a killed exec = {State: %q, Result: %v}, %v; want State %q and a Killed result", in.State, in.Result, err, pool.ExecDone)
	}
	if err := e2.Kill(ctx); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	mustWait(t, ctx, e2)
	check(0, nil, "after both finished")
}

func (s *suite) testResults(t *testing.T) {
	ctx := s.ctx(t)
	p := s.newPool(t)
	a := s.acceptPart(t, ctx, p, 0.5)

	ok := put(t, ctx, a, execID("results: succeed"), s.succeed(nil))
	r := mustWait(t, ctx, ok)
	if !r.OK() || r.ExitCode != 0 || r.Killed {
		t.Errorf("Wait of Config.Succeed's exec = %s, want success", showResult(r))
	}
	if r.End.Before(r.Start) {
		t.Errorf("Wait of Config.Succeed's exec: End %v is before Start %v", r.End, r.Start)
	}
	if in, err := ok.Inspect(ctx); err != nil || in.State != pool.ExecDone || in.Result == nil || !in.Result.OK() {
		t.Errorf("Inspect of a finished exec = {State: %q, Result: %v}, %v; want State %q and a successful result", in.State, in.Result, err, pool.ExecDone)
	}
	// Killing a finished exec does nothing.
	if err := ok.Kill(ctx); err != nil {
		t.Errorf("Kill of a finished exec: %v, want nil", err)
	}
	if r := mustWait(t, ctx, ok); !r.OK() || r.Killed {
		t.Errorf("Wait after killing a finished exec = %s, want the success it had", showResult(r))
	}

	r = mustWait(t, ctx, put(t, ctx, a, execID("results: fail"), s.fail(nil)))
	if r.OK() || r.ExitCode == 0 || r.Killed {
		t.Errorf("Wait of Config.Fail's exec = %s, want a failure with a non-zero ExitCode, not killed", showResult(r))
	}

	blocked := put(t, ctx, a, execID("results: killed"), s.block(nil))
	if err := blocked.Kill(ctx); err != nil {
		t.Errorf("Kill of a running exec: %v", err)
	}
	r = mustWait(t, ctx, blocked)
	if !r.Killed || r.OK() {
		t.Errorf("Wait of a killed exec = %s, want Killed and not OK", showResult(r))
	}
}
