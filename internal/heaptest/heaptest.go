// Package heaptest measures what values hold on the heap, for the tests
// and benchmarks that guard memory a task: take a Mark, build, and ask
// PerItem how much the heap grew.
package heaptest

import "runtime"

// Mark returns the heap in use now, once a collection has run.
func Mark() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// PerItem returns by how many bytes the heap in use grew since mark, once
// a collection has run, over n items (negative when it shrank). keep is
// what the growth is for: it is kept alive until the heap is read.
func PerItem(mark uint64, n int, keep any) float64 {
	now := Mark()
	runtime.KeepAlive(keep)
	return float64(int64(now)-int64(mark)) / float64(n)
}
