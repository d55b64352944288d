package ebb

import (
	"slices"
	"testing"
)

func TestUpwardRanks(t *testing.T) {
	// 0 → 1 → 3, 0 → 2 → 3, 4 alone.
	dependents := [][]int32{{1, 2}, {3}, {3}, nil, nil}
	order := []int32{0, 4, 1, 2, 3}
	weights := []float64{1, 5, 1, 2, 1}
	got := UpwardRanks(order, func(i int32) []int32 { return dependents[i] }, func(i int32) float64 { return weights[i] })
	if want := []float64{8, 7, 3, 2, 1}; !slices.Equal(got, want) {
		t.Errorf("ranks %v, want %v", got, want)
	}
}
