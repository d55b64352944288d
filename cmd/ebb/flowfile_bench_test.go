package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ebbflow/ebb/runner"
)

// writeFlowFile writes a JSON flow file of n independent tasks, each
// running true with a thousandth of a cpu, without holding it in memory.
func writeFlowFile(tb testing.TB, path string, n int) {
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "{\"name\": \"million\", \"tasks\": [\n")
	for i := range n {
		sep := ","
		if i == n-1 {
			sep = ""
		}
		fmt.Fprintf(w, "  {\"name\": \"t%07d\", \"argv\": [\"true\", \"%d\"], \"resources\": \"cpu=1m\"}%s\n", i, i, sep)
	}
	fmt.Fprintf(w, "]}\n")
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkFlowFileMillion reads a flow file of 1,000,000 tasks and
// does what ebb run does before its first exec: the flow's graph and
// digests, and an eval with every task ready. It reports the time and
// CPU time per flow and the process's peak resident memory; run it
// alone, in a fresh process, for a meaningful peak:
//
//	go test -run XXX -bench FlowFileMillion -benchtime 1x ./cmd/ebb
func BenchmarkFlowFileMillion(b *testing.B) {
	const n = 1_000_000
	path := filepath.Join(b.TempDir(), "million.json")
	writeFlowFile(b, path, n)
	ctx := context.Background()
	var ru0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	for b.Loop() {
		flow, err := readFlow(path)
		if err != nil {
			b.Fatal(err)
		}
		g, err := flow.Graph()
		if err != nil {
			b.Fatal(err)
		}
		digests, err := g.Digests(nil)
		if err != nil {
			b.Fatal(err)
		}
		e, err := runner.NewEval(ctx, g, digests, runner.EvalConfig{})
		if err != nil {
			b.Fatal(err)
		}
		if p := e.Progress(); p.Ready != n {
			b.Fatalf("%d tasks ready, want %d", p.Ready, n)
		}
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/flow")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/flow")
	b.ReportMetric(float64(ru.Maxrss)/(1<<20), "peak-GiB")
}
