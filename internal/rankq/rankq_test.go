package rankq

import "testing"

func TestOrder(t *testing.T) {
	var q Queue
	for _, x := range []struct {
		task int32
		rank float64
	}{{1, 1}, {2, 5}, {3, 1}, {4, 5}, {5, 3}} {
		q.Push(x.task, x.rank)
	}
	var got []int32
	for q.Len() > 0 {
		got = append(got, q.Pop())
	}
	want := []int32{2, 4, 5, 1, 3} // highest rank first, first come within a rank
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
}
