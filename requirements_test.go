package ebb

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestRequirementsMax(t *testing.T) {
	min := Resources{CPU: 2, Mem: 4 << 30}
	for _, w := range []int{0, 1} {
		if got := (Requirements{Min: min, Width: w}).Max(); !got.Equal(min) {
			t.Errorf("width %d: Max = %v, want Min %v", w, got, min)
		}
	}
	if got, want := (Requirements{Min: min, Width: 3}).Max(), min.Scale(3); !got.Equal(want) {
		t.Errorf("width 3: Max = %v, want %v", got, want)
	}
}

func TestSerialParallel(t *testing.T) {
	small := Requirements{Min: Resources{CPU: 1, Mem: 8 << 30}}
	big := Requirements{Min: Resources{CPU: 4, Mem: 2 << 30}, Width: 2}
	if got, want := small.Serial(big), (Requirements{Min: Resources{CPU: 4, Mem: 8 << 30}, Width: 2}); !got.Equal(want) {
		t.Errorf("Serial = %v, want %v", got, want)
	}
	par := small.Parallel(big)
	if want := (Requirements{Min: Resources{CPU: 4, Mem: 8 << 30}, Width: 3}); !par.Equal(want) {
		t.Errorf("Parallel = %v, want %v", par, want)
	}
	// Parallel's Max covers both Maxes side by side.
	if both := small.Max().Add(big.Max()); !both.Fits(par.Max()) {
		t.Errorf("Parallel Max %v does not cover %v", par.Max(), both)
	}
	var zero Requirements
	if got := zero.Parallel(big); !got.Equal(big) {
		t.Errorf("zero.Parallel(big) = %v, want %v", got, big)
	}
	if got := big.Parallel(zero); !got.Equal(big) {
		t.Errorf("big.Parallel(zero) = %v, want %v", got, big)
	}
	if !(Requirements{Width: 1}).Equal(Requirements{}) {
		t.Error("width 1 and width 0 differ")
	}
}

func TestRequirementsValidate(t *testing.T) {
	if err := (Requirements{Min: Resources{CPU: 1}, Width: -1}).Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("negative width: %v, want ErrInvalid", err)
	}
	if err := (Requirements{Min: Resources{CPU: -1}}).Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("negative cpu: %v, want ErrInvalid", err)
	}
	if got := (Requirements{Min: Resources{CPU: 2}, Width: 4}).String(); got != "2 cpu ×4" {
		t.Errorf("String = %q", got)
	}
}

// TestGraphRequirementsWidth: a graph's width is the most tasks at one
// depth (the longest path to them from a source), on random flows whose
// tasks are listed in an order other than a topological one.
func TestGraphRequirementsWidth(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		n := 1 + r.IntN(40)
		perm := r.Perm(n) // task k of the flow is node perm[k]
		f := &Flow{Name: "w", Tasks: make([]Task, n)}
		for k, v := range perm {
			f.Tasks[k] = Task{Name: fmt.Sprintf("n%d", v), Argv: []string{"true"}}
			for u := range v { // edges from lower nodes only: no cycle
				if r.IntN(8) == 0 {
					f.Tasks[k].After = append(f.Tasks[k].After, fmt.Sprintf("n%d", u))
				}
			}
		}
		g, err := f.Graph()
		if err != nil {
			t.Fatal(err)
		}
		// The depth of node v, from the nodes below it.
		depth := make([]int, n)
		perDepth := map[int]int{}
		for v := range n {
			k := slices.Index(perm, v)
			for _, a := range f.Tasks[k].After {
				var u int
				fmt.Sscanf(a, "n%d", &u)
				depth[v] = max(depth[v], depth[u]+1)
			}
			perDepth[depth[v]]++
		}
		want := 0
		for _, c := range perDepth {
			want = max(want, c)
		}
		if got := g.Requirements().Width; got != want {
			t.Fatalf("width of %d tasks = %d, want %d", n, got, want)
		}
	}
}
