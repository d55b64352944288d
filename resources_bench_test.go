package ebb

import "testing"

var (
	benchA = Resources{CPU: 4, Mem: 8 << 30, Disk: 100 << 30}
	benchB = Resources{CPU: 1, Mem: 2 << 30, GPU: 1}
	sink   Resources
	sinkOK bool
)

func BenchmarkResourcesAdd(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sink = benchA.Add(benchB)
	}
}

func BenchmarkResourcesFits(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkOK = benchB.Fits(benchA)
	}
}

func BenchmarkResourcesValidate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkOK = benchA.Validate() == nil
	}
}

func BenchmarkParseResources(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sink, _ = ParseResources("cpu=2,mem=8GiB,disk=100GB,gpu=1")
	}
}
