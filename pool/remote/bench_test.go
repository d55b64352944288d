package remote

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

// BenchmarkTrue runs /bin/true, Put→Wait→Remove, on a local pool: called
// directly, and through a server over loopback (plain HTTP, and TLS with
// a pinned certificate), one task after another and from parallel
// goroutines. The ratio is the protocol's cost per process exec.
func BenchmarkTrue(b *testing.B) {
	targets := map[string]func(b *testing.B) pool.Pool{
		"local": func(b *testing.B) pool.Pool { p, _ := localPool(b); return p },
		"remote-http": func(b *testing.B) pool.Pool {
			p, repo := localPool(b)
			return dial(b, serveHTTP(b, newServer(b, ServerConfig{Pool: p, Repository: repo})))
		},
		"remote-https": func(b *testing.B) pool.Pool {
			p, repo := localPool(b)
			return dial(b, serveTLS(b, newServer(b, ServerConfig{Pool: p, Repository: repo})))
		},
	}
	for _, name := range []string{"local", "remote-http", "remote-https"} {
		b.Run(name, func(b *testing.B) { benchSerial(b, targets[name](b), "/bin/true") })
		b.Run(name+"/parallel", func(b *testing.B) { benchParallel(b, targets[name](b), "/bin/true") })
	}
}

// BenchmarkBuiltin runs the builtin "true" of a memory pool: no process,
// so what is measured is the protocol alone, against the memory pool
// called directly.
func BenchmarkBuiltin(b *testing.B) {
	targets := map[string]func(b *testing.B) pool.Pool{
		"memory":     func(b *testing.B) pool.Pool { return memPool(b) },
		"in-process": func(b *testing.B) pool.Pool { return dialInProcess(b, newServer(b, ServerConfig{Pool: memPool(b)})) },
		"remote-http": func(b *testing.B) pool.Pool {
			return dial(b, serveHTTP(b, newServer(b, ServerConfig{Pool: memPool(b)})))
		},
		"remote-https": func(b *testing.B) pool.Pool {
			return dial(b, serveTLS(b, newServer(b, ServerConfig{Pool: memPool(b)})))
		},
	}
	for _, name := range []string{"memory", "in-process", "remote-http", "remote-https"} {
		b.Run(name, func(b *testing.B) { benchSerial(b, targets[name](b), "true") })
		b.Run(name+"/parallel", func(b *testing.B) { benchParallel(b, targets[name](b), "true") })
	}
}

// benchAlloc takes an alloc of a whole cpu from p.
func benchAlloc(b *testing.B, p pool.Pool) pool.Alloc {
	ctx := context.Background()
	a, err := pool.Allocate(ctx, p, ebb.Requirements{Min: ebb.Resources{"cpu": 1}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Free(context.Background()) })
	return a
}

// task runs one exec of cmd with the n-th ID: Put, Wait, Remove.
func task(b *testing.B, ctx context.Context, a pool.Alloc, cmd string, n int64) {
	id := digest.FromString(cmd + " " + strconv.FormatInt(n, 10))
	e, err := a.Put(ctx, id, pool.ExecConfig{Argv: []string{cmd}})
	if err != nil {
		b.Fatal(err)
	}
	if r, err := e.Wait(ctx); err != nil || !r.OK() {
		b.Fatalf("Wait = %+v, %v", r, err)
	}
	if err := a.Remove(ctx, id); err != nil {
		b.Fatal(err)
	}
}

func benchSerial(b *testing.B, p pool.Pool, cmd string) {
	ctx := context.Background()
	a := benchAlloc(b, p)
	b.ReportAllocs()
	var n int64
	for b.Loop() {
		n++
		task(b, ctx, a, cmd, n)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
}

func benchParallel(b *testing.B, p pool.Pool, cmd string) {
	ctx := context.Background()
	a := benchAlloc(b, p)
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			task(b, ctx, a, cmd, n.Add(1))
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
}
