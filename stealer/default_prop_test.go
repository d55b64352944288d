package stealer

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
)

var testShapes = []ebb.Resources{
	cpus(1), cpus(2), shape(1, 2), shape(0.5, 1), shape(4, 16), shape(8, 1),
	{ebb.CPU: 4, ebb.GPU: 1}, {ebb.CPU: 1, "licence": 1}, nil,
}

// randSnapshot makes a policy config and a snapshot from r: small, and
// often odd (allocs running and idle at once, requests for shapes nobody
// wants, caps already passed).
func randSnapshot(r *rand.Rand) (DefaultConfig, Snapshot) {
	ago := func(max time.Duration) time.Time { return t0.Add(-time.Duration(r.Int64N(int64(max)))) }
	pick := func() ebb.Resources { return testShapes[r.IntN(len(testShapes))].Clone() }
	cfg := DefaultConfig{
		MaxPending: r.IntN(5),
		MaxAllocs:  r.IntN(8),
		MaxWidth:   r.IntN(6),
		MaxWiden:   r.IntN(4),
	}
	if r.IntN(2) == 0 {
		cfg.IdleTimeout = time.Duration(1+r.IntN(120)) * time.Second
	}
	if r.IntN(3) == 0 {
		cfg.MaxRequest = shape(4, 8)
	}
	s := Snapshot{Now: t0}
	for range r.IntN(5) {
		n := r.IntN(40)
		if r.IntN(10) == 0 {
			n = r.IntN(10000)
		}
		s.Demand = append(s.Demand, ebb.Demand{Resources: pick(), Count: n})
	}
	mkHeld := func(id string) Held {
		res := pick().Scale(float64(1 + r.IntN(4)))
		h := Held{ID: id, Resources: res, Free: res.Clone(), Busy: ebb.Resources{}, Since: ago(time.Hour)}
		h.Working = r.IntN(4) != 0
		h.Draining = r.IntN(5) == 0
		if h.Working {
			h.Running = r.IntN(3)
			if h.Running > 0 {
				h.Free = res.Scale(0.25)
				h.Busy = res.Sub(h.Free)
			}
			if h.Running == 0 || r.IntN(4) == 0 {
				h.IdleSince = ago(5 * time.Minute)
			}
		} else {
			h.IdleSince = h.Since
		}
		return h
	}
	for i := range r.IntN(6) {
		s.Held = append(s.Held, mkHeld(fmt.Sprintf("a%d", i)))
	}
	for i := range r.IntN(3) {
		h := mkHeld(fmt.Sprintf("p%d", i))
		h.Working = true
		s.Others = append(s.Others, h)
	}
	for i := range r.IntN(6) {
		s.Pending = append(s.Pending, Pending{
			ID:           RequestID(fmt.Sprintf("r%d", i)),
			Requirements: ebb.Requirements{Min: pick(), Width: r.IntN(9)},
			Since:        ago(15 * time.Minute),
		})
	}
	for range r.IntN(4) {
		s.Latency = append(s.Latency, time.Duration(r.Int64N(int64(3*time.Minute))))
	}
	if r.IntN(2) == 0 {
		s.TaskDuration = time.Duration(1+r.IntN(600)) * time.Second
	}
	for range r.IntN(8) {
		kind := Acquired
		if r.IntN(2) == 0 {
			kind = Released
		}
		s.Recent = append(s.Recent, Change{Time: ago(30 * time.Minute), Kind: kind, Resources: pick()})
	}
	if r.IntN(3) == 0 {
		// Allocs asked for together and granted alike: a cut.
		at, res := ago(30*time.Minute), pick().Scale(float64(1+r.IntN(4)))
		for range 2 + r.IntN(2) {
			s.Recent = append(s.Recent, Change{Time: at, Kind: Acquired, Resources: res})
		}
	}
	return cfg, s
}

// cloneSnapshot copies s deeply, to tell whether Plan changed it.
func cloneSnapshot(s Snapshot) Snapshot {
	c := s
	c.Demand = cloneDemand(s.Demand)
	cloneHeld := func(hs []Held) []Held {
		if hs == nil {
			return nil
		}
		out := make([]Held, len(hs))
		for i, h := range hs {
			out[i] = h
			out[i].Resources, out[i].Free, out[i].Busy = h.Resources.Clone(), h.Free.Clone(), h.Busy.Clone()
		}
		return out
	}
	c.Held, c.Others = cloneHeld(s.Held), cloneHeld(s.Others)
	if s.Pending != nil {
		c.Pending = make([]Pending, len(s.Pending))
		for i, p := range s.Pending {
			c.Pending[i] = p
			c.Pending[i].Requirements.Min = p.Requirements.Min.Clone()
		}
	}
	c.Latency = slices.Clone(s.Latency)
	if s.Recent != nil {
		c.Recent = make([]Change, len(s.Recent))
		for i, r := range s.Recent {
			c.Recent[i] = r
			c.Recent[i].Resources = r.Resources.Clone()
		}
	}
	if s.Demand == nil {
		c.Demand = nil
	}
	return c
}

// checkInvariants returns every way plan p breaks the rules any plan of
// the default policy d must keep for snapshot s.
func checkInvariants(d *Default, s Snapshot, p Plan) []string {
	cfg := d.Config()
	var bad []string
	badf := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }

	// Drains: only held allocs that work, run nothing, and drain not yet;
	// each once.
	heldByID := map[string]Held{}
	for _, h := range s.Held {
		heldByID[h.ID] = h
	}
	seen := map[string]bool{}
	for _, dr := range p.Drain {
		h, ok := heldByID[dr.AllocID]
		switch {
		case !ok:
			badf("drains %s, which the stealer does not hold", dr.AllocID)
		case h.Running > 0:
			badf("drains busy alloc %s (running %d)", h.ID, h.Running)
		case !h.Working:
			badf("drains alloc %s, which does not work yet", h.ID)
		case h.Draining:
			badf("drains alloc %s again", h.ID)
		}
		if seen[dr.AllocID] {
			badf("drains %s twice", dr.AllocID)
		}
		seen[dr.AllocID] = true
		if dr.Reason == "" {
			badf("drain of %s has no reason", dr.AllocID)
		}
	}

	// Cancels: only requests in flight, each once, and none that the
	// demand left over by everything else would still use.
	cancelled := map[RequestID]bool{}
	for _, c := range p.Cancel {
		if !slices.ContainsFunc(s.Pending, func(q Pending) bool { return q.ID == c.ID }) {
			badf("cancels %s, which is not in flight", c.ID)
		}
		if cancelled[c.ID] {
			badf("cancels %s twice", c.ID)
		}
		cancelled[c.ID] = true
		if c.Reason == "" {
			badf("cancel of %s has no reason", c.ID)
		}
	}
	var bins []ebb.Resources
	for _, h := range s.Held {
		if !h.Working && !h.Draining {
			bins = append(bins, h.Free)
		}
	}
	// Each request counts at what the policy expects it to be granted:
	// its Max, or as many units as the largest grant seen holds.
	grant := grantCap(s)
	expected := func(r ebb.Requirements) ebb.Resources {
		return r.Min.Scale(float64(credit(r.Min, max(1, r.Width), grant)))
	}
	kept := 0
	byAge := slices.Clone(s.Pending)
	slices.SortStableFunc(byAge, func(a, b Pending) int { return a.Since.Compare(b.Since) })
	for _, q := range byAge {
		if !cancelled[q.ID] {
			bins = append(bins, expected(q.Requirements))
			kept++
		}
	}
	rest, _ := place(groups(s.Demand), bins)
	for _, q := range s.Pending {
		if !cancelled[q.ID] {
			continue
		}
		for _, g := range rest {
			if fitCount(g.shape, expected(q.Requirements), 1) > 0 {
				badf("cancels %s (%s) although %d tasks of %s that fit it are left unmet", q.ID, q.Requirements, g.count, g.shape)
			}
		}
	}

	// Acquires: a demanded shape as Min, within the caps, for no more
	// tasks than are waiting, each able to hold what it is for.
	total := 0
	var shapes []ebb.Resources
	for _, dm := range s.Demand {
		if dm.Count > 0 {
			total += dm.Count
			shapes = append(shapes, dm.Resources)
		}
	}
	if total == 0 && len(p.Acquire) > 0 {
		badf("acquires %d allocs with nothing waiting", len(p.Acquire))
	}
	asked := 0
	for _, a := range p.Acquire {
		r := a.Requirements
		if err := r.Validate(); err != nil {
			badf("acquires invalid %s: %v", r, err)
		}
		if !slices.ContainsFunc(shapes, r.Min.Equal) {
			badf("acquires Min %s, which no waiting task has", r.Min)
		}
		if r.Width < 1 || r.Width > cfg.MaxWidth {
			badf("acquires width %d, outside 1..MaxWidth %d", r.Width, cfg.MaxWidth)
		}
		if cfg.MaxRequest != nil && !r.Max().Fits(cfg.MaxRequest) && (r.Width > 1 || r.Min.Fits(cfg.MaxRequest)) {
			badf("acquires %s (max %s), beyond MaxRequest %s", r, r.Max(), cfg.MaxRequest)
		}
		n := 0
		for _, f := range a.For {
			n += f.Count
			if !f.Resources.Fits(r.Min) {
				badf("acquires %s for tasks of %s, which do not fit a unit", r, f.Resources)
			}
		}
		if left, _ := place(groups(a.For), []ebb.Resources{expected(r)}); len(left) > 0 {
			badf("acquires %s for %v, which it is not expected to hold (%s)", r, a.For, expected(r))
		}
		if n == 0 {
			badf("acquires %s for no task", r)
		}
		asked += n
		if a.Reason == "" {
			badf("acquire of %s has no reason", r)
		}
	}
	if asked > total {
		badf("acquires for %d tasks, only %d wait", asked, total)
	}
	if n := len(p.Acquire); n > 0 {
		if kept+n > cfg.MaxPending {
			badf("%d requests in flight after the plan, beyond MaxPending %d", kept+n, cfg.MaxPending)
		}
		if len(s.Held)+kept+n > cfg.MaxAllocs {
			badf("%d allocs held and asked for after the plan, beyond MaxAllocs %d", len(s.Held)+kept+n, cfg.MaxAllocs)
		}
	}
	return bad
}

func checkPlan(t *testing.T, cfg DefaultConfig, s Snapshot) {
	t.Helper()
	d, err := NewDefault(cfg)
	if err != nil {
		t.Fatal(err)
	}
	before := cloneSnapshot(s)
	p := d.Plan(s)
	bad := checkInvariants(d, s, p)
	if !reflect.DeepEqual(s, before) {
		bad = append(bad, "Plan changed its snapshot")
	}
	if again := d.Plan(s); !reflect.DeepEqual(again, p) {
		bad = append(bad, "Plan is not deterministic:\n"+formatPlan(again))
	}
	if len(bad) > 0 {
		t.Errorf("%s\nconfig %+v\nsnapshot:\n%splan:\n%s", strings.Join(bad, "\n"), cfg, formatSnapshot(s), formatPlan(p))
	}
}

// TestDefaultInvariants checks the plans of many random snapshots.
func TestDefaultInvariants(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	for seed := range uint64(n) {
		cfg, s := randSnapshot(rand.New(rand.NewPCG(seed, 1)))
		checkPlan(t, cfg, s)
		if t.Failed() {
			t.Fatalf("seed %d", seed)
		}
	}
}

// The checker catches what it is meant to: a plan that drains a busy
// alloc, cancels a needed request, or asks beyond the caps.
func TestCheckInvariantsCatches(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{MaxPending: 1})
	s := Snapshot{
		Now:     t0,
		Demand:  []ebb.Demand{dem(cpus(1), 4)},
		Held:    []Held{working("a1", 4, 2, 0)},
		Pending: []Pending{pending("r1", req(cpus(1), 2), time.Second)},
	}
	for _, tc := range []struct {
		name string
		plan Plan
		want string
	}{
		{"busy drain", Plan{Drain: []Drain{{AllocID: "a1", Reason: "x"}}}, "drains busy alloc a1"},
		{"needed cancel", Plan{Cancel: []Cancel{{ID: "r1", Reason: "x"}}}, "cancels r1"},
		{"beyond MaxPending", Plan{Acquire: []Request{{Requirements: req(cpus(1), 2), For: []ebb.Demand{dem(cpus(1), 2)}, Reason: "x"}}}, "beyond MaxPending"},
		{"shape nobody wants", Plan{Acquire: []Request{{Requirements: req(cpus(3), 1), For: []ebb.Demand{dem(cpus(1), 1)}, Reason: "x"}}}, "which no waiting task has"},
		{"no reason", Plan{Drain: []Drain{{AllocID: "a1"}}}, "has no reason"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := checkInvariants(d, s, tc.plan)
			if !strings.Contains(strings.Join(bad, "\n"), tc.want) {
				t.Errorf("checkInvariants(%s) = %q, want a complaint that says %q", formatPlan(tc.plan), bad, tc.want)
			}
		})
	}
}

func FuzzDefaultPlan(f *testing.F) {
	for _, seed := range []uint64{0, 1, 2, 42, 1 << 40} {
		f.Add(seed, uint64(7))
	}
	f.Fuzz(func(t *testing.T, a, b uint64) {
		cfg, s := randSnapshot(rand.New(rand.NewPCG(a, b)))
		checkPlan(t, cfg, s)
	})
}

// placeOneByOne is the plain greedy that placeBins must match: shapes in
// order, each into the capacities in order, as many as fit in each.
func placeOneByOne(gs []group, caps []ebb.Resources) (rest []group, placed []int) {
	free := make([]ebb.Resources, len(caps))
	for i, c := range caps {
		free[i] = c.Clone()
	}
	placed = make([]int, len(caps))
	for _, g := range gs {
		n := g.count
		for i := range free {
			if n == 0 {
				break
			}
			if k := fitCount(g.shape, free[i], n); k > 0 {
				subInPlace(free[i], g.shape, k)
				placed[i] += k
				n -= k
			}
		}
		if n > 0 {
			rest = append(rest, group{shape: g.shape, count: n})
		}
	}
	return rest, placed
}

// Placing into runs of alike capacities at once gives what placing into
// each capacity in turn gives, and leaves its input alone.
func TestPlaceBinsMatchesOneByOne(t *testing.T) {
	for seed := range uint64(2000) {
		r := rand.New(rand.NewPCG(seed, 2))
		pick := func() ebb.Resources { return testShapes[r.IntN(len(testShapes))].Clone() }
		var demand []ebb.Demand
		for range r.IntN(4) {
			demand = append(demand, ebb.Demand{Resources: pick(), Count: r.IntN(60)})
		}
		gs := groups(demand)
		var bins []bin
		var caps []ebb.Resources
		for range r.IntN(6) {
			c := pick().Scale(float64(1 + r.IntN(6)))
			n := 1 + r.IntN(5)
			bins = append(bins, bin{free: c, n: n}) // alike neighbours stay apart
			for range n {
				caps = append(caps, c)
			}
		}
		before := fmt.Sprint(bins)
		rest, out := placeBins(gs, bins)
		wantRest, wantPlaced := placeOneByOne(gs, caps)
		var placed []int
		for _, b := range out {
			for range b.n {
				placed = append(placed, b.placed)
			}
		}
		if fmt.Sprint(rest) != fmt.Sprint(wantRest) || !slices.Equal(placed, wantPlaced) || fmt.Sprint(bins) != before {
			t.Fatalf("seed %d: demand %v into %v:\nrest %v, placed %v\nwant rest %v, placed %v\nbins after: %v",
				seed, demand, before, rest, placed, wantRest, wantPlaced, bins)
		}
	}
}
