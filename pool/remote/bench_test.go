package remote

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

// A target makes the pool a benchmark runs tasks on, and the count of the
// requests its server gets (nil for a pool called directly).
type target func(b *testing.B) (pool.Pool, *atomic.Int64)

// counting wraps h, counting its requests in n.
func counting(h http.Handler, n *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h.ServeHTTP(w, r)
	})
}

// remoteTarget serves the pool newPool makes with serve, and dials it,
// batching or not.
func remoteTarget(newPool func(b *testing.B) ServerConfig, serve func(testing.TB, http.Handler) ClientConfig, noBatch bool) target {
	return func(b *testing.B) (pool.Pool, *atomic.Int64) {
		n := new(atomic.Int64)
		cfg := serve(b, counting(newServer(b, newPool(b)), n))
		cfg.NoBatch = noBatch
		return dial(b, cfg), n
	}
}

func serveInProcess(tb testing.TB, h http.Handler) ClientConfig {
	return ClientConfig{URL: "http://in-process", Token: testToken, Transport: InProcess(h)}
}

// BenchmarkTrue runs /bin/true, Put→Wait→Remove, on a local pool: called
// directly, and through a server over loopback (plain HTTP, and TLS with
// a pinned certificate), batched and not, one task after another and
// from parallel goroutines. The ratio is the protocol's cost per process
// exec.
func BenchmarkTrue(b *testing.B) {
	local := func(b *testing.B) ServerConfig {
		p, repo := localPool(b)
		return ServerConfig{Pool: p, Repository: repo}
	}
	targets := map[string]target{
		"local":                func(b *testing.B) (pool.Pool, *atomic.Int64) { p, _ := localPool(b); return p, nil },
		"remote-http":          remoteTarget(local, serveHTTP, false),
		"remote-http-nobatch":  remoteTarget(local, serveHTTP, true),
		"remote-https":         remoteTarget(local, serveTLS, false),
		"remote-https-nobatch": remoteTarget(local, serveTLS, true),
	}
	for _, name := range []string{"local", "remote-http", "remote-http-nobatch", "remote-https", "remote-https-nobatch"} {
		b.Run(name, func(b *testing.B) { benchSerial(b, targets[name], "/bin/true") })
		b.Run(name+"/parallel", func(b *testing.B) { benchParallel(b, targets[name], "/bin/true") })
	}
}

// BenchmarkBuiltin runs the builtin "true" of a memory pool: no process,
// so what is measured is the protocol alone, batched and not, against
// the memory pool called directly.
func BenchmarkBuiltin(b *testing.B) {
	mem := func(b *testing.B) ServerConfig { return ServerConfig{Pool: memPool(b)} }
	targets := map[string]target{
		"memory":               func(b *testing.B) (pool.Pool, *atomic.Int64) { return memPool(b), nil },
		"in-process":           remoteTarget(mem, serveInProcess, false),
		"in-process-nobatch":   remoteTarget(mem, serveInProcess, true),
		"remote-http":          remoteTarget(mem, serveHTTP, false),
		"remote-http-nobatch":  remoteTarget(mem, serveHTTP, true),
		"remote-https":         remoteTarget(mem, serveTLS, false),
		"remote-https-nobatch": remoteTarget(mem, serveTLS, true),
	}
	names := []string{"memory", "in-process", "in-process-nobatch", "remote-http", "remote-http-nobatch", "remote-https", "remote-https-nobatch"}
	for _, name := range names {
		b.Run(name, func(b *testing.B) { benchSerial(b, targets[name], "true") })
		b.Run(name+"/parallel", func(b *testing.B) { benchParallel(b, targets[name], "true") })
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

// report reports tasks/s and, for a remote pool, the requests its server
// got per task since start.
func report(b *testing.B, reqs *atomic.Int64, start int64) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
	if reqs != nil {
		b.ReportMetric(float64(reqs.Load()-start)/float64(b.N), "req/task")
	}
}

func benchSerial(b *testing.B, t target, cmd string) {
	ctx := context.Background()
	p, reqs := t(b)
	a := benchAlloc(b, p)
	var start int64
	if reqs != nil {
		start = reqs.Load()
	}
	b.ReportAllocs()
	var n int64
	for b.Loop() {
		n++
		task(b, ctx, a, cmd, n)
	}
	report(b, reqs, start)
}

func benchParallel(b *testing.B, t target, cmd string) {
	ctx := context.Background()
	p, reqs := t(b)
	a := benchAlloc(b, p)
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	var start int64
	if reqs != nil {
		start = reqs.Load()
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			task(b, ctx, a, cmd, n.Add(1))
		}
	})
	report(b, reqs, start)
}

// BenchmarkWait waits, again and again, on an exec that is done, over
// http: batched (an execs:wait poll) and not (a plain wait). The
// difference is what a caller alone pays per Wait for batching.
func BenchmarkWait(b *testing.B) {
	mem := func(b *testing.B) ServerConfig { return ServerConfig{Pool: memPool(b)} }
	for _, name := range []string{"remote-http", "remote-http-nobatch"} {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			p, _ := remoteTarget(mem, serveHTTP, name == "remote-http-nobatch")(b)
			a := benchAlloc(b, p)
			e, err := a.Put(ctx, digest.FromString("wait"), pool.ExecConfig{Argv: []string{"true"}})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if r, err := e.Wait(ctx); err != nil || !r.OK() {
					b.Fatalf("Wait = %+v, %v", r, err)
				}
			}
		})
	}
}
