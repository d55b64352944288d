package placement

import (
	"slices"
	"testing"
)

func TestReserve(t *testing.T) {
	type alloc struct {
		holds bool
		free  float64
	}
	for _, tc := range []struct {
		name   string
		allocs []alloc
		k      int
		want   []int
	}{
		{"none", nil, 1, nil},
		{"none holds it", []alloc{{false, 3}, {false, 1}}, 1, nil},
		{"the most cpus free", []alloc{{true, 1}, {true, 3}, {true, 2}}, 1, []int{1}},
		{"the two with the most", []alloc{{true, 1}, {true, 3}, {true, 2}}, 2, []int{1, 2}},
		{"the last among equals", []alloc{{true, 2}, {true, 2}, {true, 2}}, 2, []int{2, 1}},
		{"one that holds it, however busy", []alloc{{false, 7}, {true, 0}}, 1, []int{1}},
		{"all that hold them, fewer than the tasks", []alloc{{true, 0}, {false, 4}, {true, 1}}, 5, []int{2, 0}},
		{"no task", []alloc{{true, 1}}, 0, nil},
	} {
		buf := []int{9}
		got := Reserve(buf, len(tc.allocs), tc.k, func(i int) bool { return tc.allocs[i].holds }, func(i int) float64 { return tc.allocs[i].free })
		if !slices.Equal(got[:1], buf) || !slices.Equal(got[1:], tc.want) && len(got)+len(tc.want) > 1 {
			t.Errorf("%s: Reserve(%v, …, %d) = %v, want %v after the 9", tc.name, buf, tc.k, got, tc.want)
		}
	}
}
