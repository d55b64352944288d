package cluster_test

import (
	"fmt"
	"maps"
	"math"
	"math/rand"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/quick"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
)

func cpu(n float64) ebb.Resources { return ebb.Resources{ebb.CPU: n} }

func shape(name string, cores, price float64) cluster.Shape {
	return cluster.Shape{Name: name, Resources: cpu(cores), Price: price}
}

func want(cores float64, width int) ebb.Requirements {
	return ebb.Requirements{Min: cpu(cores), Width: width}
}

var noLimits = cluster.Limits{Launches: 100, Budget: math.Inf(1)}

// formatLaunches prints launches as "small[r0 r2×3] pending1:big[r1]":
// the shape, and each claim's request index, with its width when above 1.
func formatLaunches(ls []cluster.Launch) string {
	var b strings.Builder
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(' ')
		}
		if l.Launching >= 0 {
			fmt.Fprintf(&b, "pending%d:", l.Launching)
		}
		b.WriteString(l.Shape.Name)
		b.WriteByte('[')
		for j, c := range l.Claims {
			if j > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "r%d", c.Request)
			if c.Width != 1 {
				fmt.Fprintf(&b, "×%d", c.Width)
			}
		}
		b.WriteByte(']')
	}
	return b.String()
}

func TestPack(t *testing.T) {
	small, big := shape("small", 2, 1), shape("big", 8, 3)
	four := shape("four", 4, 1)
	tests := []struct {
		name      string
		requests  []ebb.Requirements
		shapes    []cluster.Shape
		launching []cluster.Launching
		limits    cluster.Limits
		want      string
	}{
		{
			name:   "nothing to do",
			shapes: []cluster.Shape{small},
			limits: noLimits,
			want:   "",
		},
		{
			name:     "cheapest shape that fits",
			requests: []ebb.Requirements{want(1, 0)},
			shapes:   []cluster.Shape{big, small},
			limits:   noLimits,
			want:     "small[r0]",
		},
		{
			name:     "a request bigger than the cheap shape",
			requests: []ebb.Requirements{want(3, 0)},
			shapes:   []cluster.Shape{big, small},
			limits:   noLimits,
			want:     "big[r0]",
		},
		{
			name:     "ten requests into three workers",
			requests: []ebb.Requirements{want(1, 0), want(1, 0), want(1, 0), want(1, 0), want(1, 0), want(1, 0), want(1, 0), want(1, 0), want(1, 0), want(1, 0)},
			shapes:   []cluster.Shape{four},
			limits:   noLimits,
			want:     "four[r0 r1 r2 r3] four[r4 r5 r6 r7] four[r8 r9]",
		},
		{
			name:     "decreasing order packs tighter than arrival order",
			requests: []ebb.Requirements{want(2, 0), want(2, 0), want(3, 0), want(3, 0)},
			shapes:   []cluster.Shape{shape("five", 5, 1)},
			limits:   noLimits,
			want:     "five[r2 r0] five[r3 r1]",
		},
		{
			name:      "joins a launch in flight",
			requests:  []ebb.Requirements{want(1, 0)},
			shapes:    []cluster.Shape{four},
			launching: []cluster.Launching{{Shape: four, Free: cpu(3)}},
			limits:    noLimits,
			want:      "pending0:four[r0]",
		},
		{
			name:      "joins the first launch in flight it fits",
			requests:  []ebb.Requirements{want(2, 0)},
			shapes:    []cluster.Shape{four},
			launching: []cluster.Launching{{Shape: four, Free: cpu(1)}, {Shape: four, Free: cpu(2)}, {Shape: four, Free: cpu(4)}},
			limits:    noLimits,
			want:      "pending1:four[r0]",
		},
		{
			name:      "too big for the launch in flight",
			requests:  []ebb.Requirements{want(2, 0), want(1, 0)},
			shapes:    []cluster.Shape{four},
			launching: []cluster.Launching{{Shape: four, Free: cpu(1)}},
			limits:    noLimits,
			want:      "pending0:four[r1] four[r0]",
		},
		{
			name:      "joins a launch in flight even with no launches left",
			requests:  []ebb.Requirements{want(1, 0), want(4, 0)},
			shapes:    []cluster.Shape{four},
			launching: []cluster.Launching{{Shape: four, Free: cpu(1)}},
			limits:    cluster.Limits{Budget: math.Inf(1)},
			want:      "pending0:four[r0]",
		},
		{
			name:     "width picks a shape that holds Max",
			requests: []ebb.Requirements{want(1, 8)},
			shapes:   []cluster.Shape{small, four, big},
			limits:   noLimits,
			want:     "big[r0×8]",
		},
		{
			name:     "width beyond every shape takes the most units",
			requests: []ebb.Requirements{want(1, 16)},
			shapes:   []cluster.Shape{small, big, four},
			limits:   noLimits,
			want:     "big[r0×8]",
		},
		{
			name:      "width partly in a launch in flight",
			requests:  []ebb.Requirements{want(1, 4)},
			shapes:    []cluster.Shape{four},
			launching: []cluster.Launching{{Shape: four, Free: cpu(2)}},
			limits:    noLimits,
			want:      "pending0:four[r0×2]",
		},
		{
			name:     "spare room of a wide request's worker",
			requests: []ebb.Requirements{want(2, 3), want(2, 0)},
			shapes:   []cluster.Shape{big},
			limits:   noLimits,
			want:     "big[r0×3 r1]",
		},
		{
			name:     "launch limit leaves the smallest out",
			requests: []ebb.Requirements{want(1, 0), want(4, 0), want(4, 0)},
			shapes:   []cluster.Shape{four},
			limits:   cluster.Limits{Launches: 2, Budget: math.Inf(1)},
			want:     "four[r1] four[r2]",
		},
		{
			name:     "no launches",
			requests: []ebb.Requirements{want(1, 0)},
			shapes:   []cluster.Shape{four},
			limits:   cluster.Limits{Budget: math.Inf(1)},
			want:     "",
		},
		{
			name:     "budget too small for the shape that fits",
			requests: []ebb.Requirements{want(6, 0)},
			shapes:   []cluster.Shape{small, big},
			limits:   cluster.Limits{Launches: 10, Budget: 2.5},
			want:     "",
		},
		{
			name:     "budget exactly enough",
			requests: []ebb.Requirements{want(6, 0)},
			shapes:   []cluster.Shape{small, big},
			limits:   cluster.Limits{Launches: 10, Budget: 3},
			want:     "big[r0]",
		},
		{
			name:     "budget narrows a wide request to a cheaper shape",
			requests: []ebb.Requirements{want(1, 8)},
			shapes:   []cluster.Shape{small, big},
			limits:   cluster.Limits{Launches: 10, Budget: 2},
			want:     "small[r0×2]",
		},
		{
			name:     "budget runs out across launches",
			requests: []ebb.Requirements{want(2, 0), want(2, 0), want(2, 0)},
			shapes:   []cluster.Shape{small},
			limits:   cluster.Limits{Launches: 10, Budget: 2},
			want:     "small[r0] small[r1]",
		},
		{
			name:     "fits no shape",
			requests: []ebb.Requirements{want(16, 0), want(1, 0)},
			shapes:   []cluster.Shape{small, big},
			limits:   noLimits,
			want:     "small[r1]",
		},
		{
			name:     "memory picks the shape",
			requests: []ebb.Requirements{{Min: ebb.Resources{ebb.CPU: 1, ebb.Mem: 16 << 30}}},
			shapes: []cluster.Shape{
				{Name: "cpus", Resources: ebb.Resources{ebb.CPU: 16, ebb.Mem: 8 << 30}, Price: 1},
				{Name: "mems", Resources: ebb.Resources{ebb.CPU: 2, ebb.Mem: 32 << 30}, Price: 2},
			},
			limits: noLimits,
			want:   "mems[r0]",
		},
		{
			name:     "equal price: the smaller shape",
			requests: []ebb.Requirements{want(1, 0)},
			shapes:   []cluster.Shape{shape("b", 8, 1), shape("a", 4, 1)},
			limits:   noLimits,
			want:     "a[r0]",
		},
		{
			name:     "equal price and size: the first name",
			requests: []ebb.Requirements{want(1, 0)},
			shapes:   []cluster.Shape{shape("b", 4, 1), shape("a", 4, 1)},
			limits:   noLimits,
			want:     "a[r0]",
		},
		{
			name:     "a request of nothing",
			requests: []ebb.Requirements{{}},
			shapes:   []cluster.Shape{four, small},
			limits:   noLimits,
			want:     "small[r0]",
		},
		{
			name:     "exact fit after rounding",
			requests: []ebb.Requirements{want(0.1, 0), want(0.2, 0), want(0.7, 0)},
			shapes:   []cluster.Shape{shape("one", 1, 1)},
			limits:   noLimits,
			want:     "one[r2 r1 r0]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := formatLaunches(cluster.Pack(tt.requests, tt.shapes, tt.launching, tt.limits))
			if got != tt.want {
				t.Errorf("Pack(requests %v, shapes %v, pending %v, limits %+v)\n got %q\nwant %q",
					tt.requests, tt.shapes, tt.launching, tt.limits, got, tt.want)
			}
		})
	}
}

// packInput is a random input of Pack, for testing/quick.
type packInput struct {
	Requests  []ebb.Requirements
	Shapes    []cluster.Shape
	Launching []cluster.Launching
	Limits    cluster.Limits
}

// Generate makes inputs in a few keys and coarse quantities, so that
// requests often fit exactly and shapes often tie.
func (packInput) Generate(r *rand.Rand, size int) reflect.Value {
	keys := []string{ebb.CPU, ebb.Mem, ebb.GPU}
	res := func(maxQ int) ebb.Resources {
		out := ebb.Resources{}
		for _, k := range keys {
			if r.Intn(3) > 0 {
				out[k] = float64(r.Intn(maxQ*4)) / 4
			}
		}
		return out
	}
	var in packInput
	for i := range 1 + r.Intn(4) {
		s := cluster.Shape{Name: fmt.Sprintf("s%d", i), Resources: res(16), Price: float64(r.Intn(5))}
		if s.Resources.IsZero() {
			s.Resources = cpu(1)
		}
		in.Shapes = append(in.Shapes, s)
	}
	for range r.Intn(size%20 + 1) {
		in.Requests = append(in.Requests, ebb.Requirements{Min: res(6), Width: r.Intn(5)})
	}
	for range r.Intn(3) {
		s := in.Shapes[r.Intn(len(in.Shapes))]
		free := ebb.Resources{}
		for k, v := range s.Resources {
			free[k] = v * float64(r.Intn(5)) / 4
		}
		in.Launching = append(in.Launching, cluster.Launching{Shape: s, Free: free})
	}
	in.Limits = cluster.Limits{Launches: r.Intn(6), Budget: math.Inf(1)}
	if r.Intn(2) == 0 {
		in.Limits.Budget = float64(r.Intn(12))
	}
	return reflect.ValueOf(in)
}

// deepCopy copies in, keeping zero quantities, so that a change Pack made
// to its arguments shows.
func (in packInput) deepCopy() packInput {
	cp := func(r ebb.Resources) ebb.Resources {
		if r == nil {
			return nil
		}
		return maps.Clone(r)
	}
	out := packInput{Limits: in.Limits}
	for _, r := range in.Requests {
		out.Requests = append(out.Requests, ebb.Requirements{Min: cp(r.Min), Width: r.Width})
	}
	for _, s := range in.Shapes {
		s.Resources = cp(s.Resources)
		out.Shapes = append(out.Shapes, s)
	}
	for _, p := range in.Launching {
		p.Shape.Resources = cp(p.Shape.Resources)
		out.Launching = append(out.Launching, cluster.Launching{Shape: p.Shape, Free: cp(p.Free)})
	}
	return out
}

// checkPack returns what is wrong with Pack's answer to in, or "".
func checkPack(in packInput, got []cluster.Launch) string {
	placed := make(map[int]bool)
	newLaunches, spent := 0, 0.0
	// leftover is what each launch, pending then new, has free at the end.
	leftover := make([]ebb.Resources, len(in.Launching))
	for i, p := range in.Launching {
		leftover[i] = p.Free
	}
	lastPending := -1
	for i, l := range got {
		if len(l.Claims) == 0 {
			return fmt.Sprintf("launch %d has no claims", i)
		}
		for _, c := range l.Claims {
			if c.Request < 0 || c.Request >= len(in.Requests) {
				return fmt.Sprintf("launch %d: claim of unknown request %d", i, c.Request)
			}
		}
		var room ebb.Resources
		if l.Launching >= 0 {
			if l.Launching >= len(in.Launching) || l.Launching <= lastPending || newLaunches > 0 {
				return fmt.Sprintf("launch %d: Launching %d out of range or order", i, l.Launching)
			}
			lastPending = l.Launching
			if l.Shape.Name != in.Launching[l.Launching].Shape.Name {
				return fmt.Sprintf("launch %d: shape %s, but pending %d is of %s", i, l.Shape.Name, l.Launching, in.Launching[l.Launching].Shape.Name)
			}
			room = in.Launching[l.Launching].Free
		} else {
			j := slices.IndexFunc(in.Shapes, func(s cluster.Shape) bool { return s.Name == l.Shape.Name })
			if j < 0 {
				return fmt.Sprintf("launch %d: unknown shape %s", i, l.Shape.Name)
			}
			if !l.Shape.Resources.Equal(in.Shapes[j].Resources) || l.Shape.Price != in.Shapes[j].Price {
				return fmt.Sprintf("launch %d: shape %v differs from the input's %v", i, l.Shape, in.Shapes[j])
			}
			newLaunches++
			spent += l.Shape.Price
			room = l.Shape.Resources
			// Cheapest: no cheaper shape holds the units of the request
			// the launch was opened for.
			opener := in.Requests[l.Claims[0].Request]
			units := opener.Min.Scale(float64(l.Claims[0].Width))
			for _, s := range in.Shapes {
				if s.Price < l.Shape.Price && units.Fits(s.Resources) {
					return fmt.Sprintf("launch %d: %v opened for r%d×%d, but %v is cheaper and holds it", i, l.Shape, l.Claims[0].Request, l.Claims[0].Width, s)
				}
			}
		}
		var held ebb.Resources
		for _, c := range l.Claims {
			if placed[c.Request] {
				return fmt.Sprintf("request %d claimed twice", c.Request)
			}
			placed[c.Request] = true
			w := in.Requests[c.Request]
			if c.Width < 1 || c.Width > max(1, w.Width) {
				return fmt.Sprintf("launch %d: request %d (width %d) claims width %d", i, c.Request, w.Width, c.Width)
			}
			held = held.Add(w.Min.Scale(float64(c.Width)))
		}
		if !held.Fits(room) {
			return fmt.Sprintf("launch %d: claims hold %v, beyond its room %v", i, held, room)
		}
		if l.Launching >= 0 {
			leftover[l.Launching] = room.Sub(held)
		} else {
			leftover = append(leftover, room.Sub(held))
		}
	}
	if newLaunches > in.Limits.Launches {
		return fmt.Sprintf("%d new launches, limit %d", newLaunches, in.Limits.Launches)
	}
	if spent > in.Limits.Budget+1e-9 {
		return fmt.Sprintf("new launches cost %v, budget %v", spent, in.Limits.Budget)
	}
	// Nothing left out that could have been placed: a request is left
	// out only when it fits no launch's leftover room, and it could not
	// open a launch (no launches left, or no shape within the budget
	// left holds it).
	for i, r := range in.Requests {
		if placed[i] {
			continue
		}
		for j, free := range leftover {
			if r.Min.Fits(free) {
				return fmt.Sprintf("request %d (%v) left out, but fits the leftover %v of launch %d", i, r, free, j)
			}
		}
		if newLaunches < in.Limits.Launches {
			for _, s := range in.Shapes {
				if s.Price <= in.Limits.Budget-spent+1e-9 && r.Min.Fits(s.Resources) {
					return fmt.Sprintf("request %d (%v) left out, but %v fits it within the budget left", i, r, s)
				}
			}
		}
	}
	return ""
}

func TestPackProperties(t *testing.T) {
	check := func(in packInput) bool {
		before := in.deepCopy()
		got := cluster.Pack(in.Requests, in.Shapes, in.Launching, in.Limits)
		if msg := checkPack(in, got); msg != "" {
			t.Errorf("%s\ninput: %+v\nPack: %s", msg, in, formatLaunches(got))
			return false
		}
		if !reflect.DeepEqual(in, before) {
			t.Errorf("Pack changed its input\nbefore: %+v\n after: %+v", before, in)
			return false
		}
		again := cluster.Pack(in.Requests, in.Shapes, in.Launching, in.Limits)
		if a, b := formatLaunches(got), formatLaunches(again); a != b {
			t.Errorf("Pack is not deterministic: %s, then %s\ninput: %+v", a, b, in)
			return false
		}
		// The result shares no memory with the input.
		for _, l := range got {
			l.Shape.Resources["scribble"] = 1
		}
		if !reflect.DeepEqual(in, before) {
			t.Errorf("writing to Pack's result changed its input")
			return false
		}
		return true
	}
	if err := quick.Check(check, &quick.Config{MaxCount: 3000}); err != nil {
		t.Error(err)
	}
}

// TestCheckPackCatches makes sure the property check can fail: it feeds
// checkPack answers that break each rule.
func TestCheckPackCatches(t *testing.T) {
	four := shape("four", 4, 2)
	two := shape("two", 2, 1)
	in := packInput{
		Requests: []ebb.Requirements{want(3, 0), want(2, 0), want(1, 2)},
		Shapes:   []cluster.Shape{four, two},
		Limits:   cluster.Limits{Launches: 2, Budget: 4},
	}
	if msg := checkPack(in, cluster.Pack(in.Requests, in.Shapes, in.Launching, in.Limits)); msg != "" {
		t.Fatalf("checkPack of Pack's own answer: %s", msg)
	}
	bad := map[string][]cluster.Launch{
		"beyond the shape": {{Shape: four, Launching: -1, Claims: []cluster.Claim{{0, 1}, {1, 1}}}},
		"claimed twice":    {{Shape: four, Launching: -1, Claims: []cluster.Claim{{0, 1}}}, {Shape: four, Launching: -1, Claims: []cluster.Claim{{0, 1}}}},
		"too wide":         {{Shape: four, Launching: -1, Claims: []cluster.Claim{{2, 3}}}},
		"over the limit":   {{Shape: two, Launching: -1, Claims: []cluster.Claim{{1, 1}}}, {Shape: two, Launching: -1, Claims: []cluster.Claim{{2, 1}}}, {Shape: two, Launching: -1, Claims: []cluster.Claim{{2, 1}}}},
		"over the budget":  {{Shape: four, Launching: -1, Claims: []cluster.Claim{{0, 1}}}, {Shape: four, Launching: -1, Claims: []cluster.Claim{{1, 1}}}, {Shape: two, Launching: -1, Claims: []cluster.Claim{{2, 1}}}},
		"not the cheapest": {{Shape: four, Launching: -1, Claims: []cluster.Claim{{1, 1}}}},
		"left out":         {{Shape: four, Launching: -1, Claims: []cluster.Claim{{0, 1}}}},
		"no claims":        {{Shape: four, Launching: -1}},
		"unknown shape":    {{Shape: shape("six", 6, 0), Launching: -1, Claims: []cluster.Claim{{0, 1}}}},
		"unknown pending":  {{Shape: four, Launching: 0, Claims: []cluster.Claim{{0, 1}}}},
		"zero width":       {{Shape: four, Launching: -1, Claims: []cluster.Claim{{0, 0}}}},
		"unknown request":  {{Shape: four, Launching: -1, Claims: []cluster.Claim{{7, 1}}}},
	}
	for name, ls := range bad {
		if msg := checkPack(in, ls); msg == "" {
			t.Errorf("checkPack(%s: %s) found nothing wrong", name, formatLaunches(ls))
		}
	}
}
