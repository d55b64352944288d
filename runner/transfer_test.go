package runner_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/counting"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/local"
	"github.com/ebbflow/ebb/pool/remote"
	"github.com/ebbflow/ebb/repository"
	"github.com/ebbflow/ebb/repository/repositorytest"
	"github.com/ebbflow/ebb/runner"
	"github.com/opencontainers/go-digest"
)

// A transferRig is a driver and workers that talk over 127.0.0.1, each
// worker a local pool behind a remote.Server, as `ebb worker` runs one.
// It counts the blob bytes that cross the driver's repository server and
// each worker's peer server.
//
// With peers, each worker keeps a local.BlobCache whose origin is a
// remote.PeerOrigin and serves it through a remote.PeerServer, and the
// driver's repository is a repository.Located. Without, each worker stages
// from and stores to the driver's repository, as `ebb worker
// -driver-blobs` does.
type transferRig struct {
	peers   bool
	dir     *repository.Dir
	repo    repository.Store // the driver's: dir, or Located over it
	driver  *countingHandler // the driver's repository server
	workers []*rigWorker
}

type rigWorker struct {
	stopPeer func() // stops the peer server: the worker's blobs are gone
	client   *remote.Client
	cache    *local.BlobCache   // nil without peers
	peer     *remote.PeerServer // nil without peers
}

// countingHandler counts the blob content that goes through an
// http.Handler: request bodies of POST /v1/blobs, answers of GET
// /v1/blobs/{digest} and of GET /v1/peer/blobs/{digest}.
type countingHandler struct {
	h     http.Handler
	bytes atomic.Int64
}

func (c *countingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	blob := strings.HasPrefix(path, "/v1/blobs/") || strings.HasPrefix(path, "/v1/peer/blobs/")
	blob = blob && !strings.HasSuffix(path, "/holders") && !strings.HasSuffix(path, "/stat")
	switch {
	case r.Method == "POST" && path == "/v1/blobs":
		r.Body = counting.ReadCloser{ReadCloser: r.Body, N: &c.bytes}
	case r.Method == "GET" && blob:
		w = counting.ResponseWriter{ResponseWriter: w, N: &c.bytes}
	}
	c.h.ServeHTTP(w, r)
}

// serve serves h on 127.0.0.1 until the test ends.
func serve(t testing.TB, h http.Handler) string {
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}

func newTransferRig(t testing.TB, workers int, peers bool) *transferRig {
	t.Helper()
	cpus := make([]float64, workers)
	for i := range cpus {
		cpus[i] = 2
	}
	return newTransferRigCPU(t, cpus, peers)
}

// newTransferRigCPU is newTransferRig with a worker of cpus[i] cores
// for each i.
func newTransferRigCPU(t testing.TB, cpus []float64, peers bool) *transferRig {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { stop(); wg.Wait() })
	dir, err := repository.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rig := &transferRig{peers: peers, dir: dir, repo: dir}
	peerToken := remote.NewToken()
	var driverPeers *remote.Peers
	if peers {
		driverPeers, err = remote.NewPeers(remote.PeersConfig{Token: peerToken, Timeout: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { driverPeers.Close() })
		rig.repo = repository.NewLocated(dir, driverPeers)
	}
	driverToken := remote.NewToken()
	srv, err := remote.NewServer(remote.ServerConfig{Repository: rig.repo, Token: driverToken})
	if err != nil {
		t.Fatal(err)
	}
	rig.driver = &countingHandler{h: srv}
	driverCfg := remote.ClientConfig{URL: serve(t, rig.driver), Token: driverToken}

	for i, cpu := range cpus {
		wdir := t.TempDir()
		driverRepo, err := remote.NewRepository(driverCfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { driverRepo.Close() })
		w := &rigWorker{}
		var repo pool.Repository = driverRepo
		if peers {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			self := remote.Holder("http://"+ln.Addr().String(), "")
			ps, err := remote.NewPeers(remote.PeersConfig{Token: peerToken})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ps.Close() })
			origin, err := remote.NewPeerOrigin(driverRepo, ps, self)
			if err != nil {
				t.Fatal(err)
			}
			w.cache, err = local.NewBlobCache(local.BlobCacheConfig{Dir: filepath.Join(wdir, "cache"), Origin: origin})
			if err != nil {
				t.Fatal(err)
			}
			w.peer, err = remote.NewPeerServer(remote.PeerServerConfig{Blobs: w.cache, Token: peerToken})
			if err != nil {
				t.Fatal(err)
			}
			pctx, stopPeer := context.WithCancel(ctx)
			w.stopPeer = stopPeer
			wg.Go(func() {
				if err := w.peer.Serve(pctx, ln, nil); err != nil {
					t.Errorf("peer server %d: %v", i, err)
				}
			})
			repo = w.cache
		}
		p, err := local.New(local.Config{Dir: filepath.Join(wdir, "pool"), ID: fmt.Sprint("w", i),
			Resources: ebb.Resources{ebb.CPU: cpu, ebb.Mem: 1 << 30}, Repository: repo})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close(context.Background()) })
		token := remote.NewToken()
		wsrv, err := remote.NewServer(remote.ServerConfig{Pool: p, Repository: repo, Token: token})
		if err != nil {
			t.Fatal(err)
		}
		w.client, err = remote.Dial(t.Context(), remote.ClientConfig{URL: serve(t, wsrv), Token: token})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.client.Close() })
		rig.workers = append(rig.workers, w)
	}
	return rig
}

// peerBytes is the blob content all peer servers sent.
func (rig *transferRig) peerBytes() int64 {
	var n int64
	for _, w := range rig.workers {
		if w.peer != nil {
			n += w.peer.Stats().Bytes
		}
	}
	return n
}

// fanFlow is a fan-out/fan-in flow: gens tasks each write a distinct
// intermediate of size bytes; users tasks each read all of them and write
// a line; one sink concatenates the lines. The flow's caller asks only
// for the sink's output.
func fanFlow(gens, users int, size int64) *ebb.Flow {
	env := []string{"PATH=/usr/bin:/bin"}
	cpu := ebb.Resources{ebb.CPU: 1}
	f := &ebb.Flow{Name: "fan"}
	var all []ebb.Input
	for i := range gens {
		name := fmt.Sprint("gen", i)
		f.Tasks = append(f.Tasks, ebb.Task{Name: name, Env: env, Resources: cpu, Outputs: []string{"out"},
			Argv: []string{"sh", "-c", fmt.Sprintf("{ echo %d; head -c %d /dev/zero; } > out", i, size)}})
		all = append(all, ebb.Input{Name: fmt.Sprint("in", i), Task: name, Output: "out"})
	}
	var lines []ebb.Input
	for j := range users {
		name := fmt.Sprint("use", j)
		f.Tasks = append(f.Tasks, ebb.Task{Name: name, Env: env, Resources: cpu, Inputs: all, Outputs: []string{"out"},
			Argv: []string{"sh", "-c", fmt.Sprintf("{ echo %d; cat in* | wc -c; } > out", j)}})
		lines = append(lines, ebb.Input{Name: fmt.Sprint("line", j), Task: name, Output: "out"})
	}
	f.Tasks = append(f.Tasks, ebb.Task{Name: "sum", Env: env, Resources: cpu, Inputs: lines, Outputs: []string{"out"},
		Argv: []string{"sh", "-c", "cat line* > out"}})
	return f
}

// run evaluates flow on every worker of the rig and returns the digest
// of the sink's output.
func (rig *transferRig) run(t testing.TB, flow *ebb.Flow) digest.Digest {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Minute)
	defer cancel()
	g, err := flow.Graph()
	if err != nil {
		t.Fatal(err)
	}
	digests, err := g.Digests(nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := runner.NewEval(ctx, g, digests, runner.EvalConfig{Repository: rig.repo})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, w := range rig.workers {
		a, err := pool.Allocate(ctx, w.client, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 2}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if err := e.Work(wctx, a); err != nil && wctx.Err() == nil {
				t.Errorf("Work on %s: %v", a.ID(), err)
			}
			a.Free(context.WithoutCancel(ctx))
		})
	}
	err = e.Wait(ctx)
	stop()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return e.Outputs()["sum/out"]
}

// TestFanOutFanInBytes runs a fan-out/fan-in flow across three workers
// and counts the bytes: through the driver's repository server, none at
// all (the one output the caller asked for is copied from its worker's
// peer server); through the peer servers, each intermediate at most once
// per worker that reads it.
func TestFanOutFanInBytes(t *testing.T) {
	const gens, users, workers, size = 8, 4, 3, 256 << 10
	rig := newTransferRig(t, workers, true)
	d := rig.run(t, fanFlow(gens, users, size))

	rc, err := rig.dir.Get(t.Context(), d) // the driver's own store has it
	if err != nil {
		t.Fatalf("the sink's output is not in the driver's store: %v", err)
	}
	out, _ := io.ReadAll(rc)
	rc.Close()
	want := fmt.Sprint(gens * (size + 2)) // each intermediate: its number, a newline and size zeros
	if got := strings.Count(string(out), want); got != users {
		t.Errorf("sink output %q: want %d lines of %s bytes", out, users, want)
	}

	if got := rig.driver.bytes.Load(); got != 0 {
		t.Errorf("blob bytes through the driver's repository server = %d, want 0", got)
	}
	var fetched int64
	for i, w := range rig.workers {
		st := w.cache.Stats()
		fetched += st.FetchedBytes
		// A worker fetches each intermediate it lacks once, and the
		// users' lines (a few bytes each) if it ran the sink.
		if limit := int64(gens*(size+2) + users*16); st.FetchedBytes > limit {
			t.Errorf("worker %d fetched %d bytes, want at most %d (each intermediate once): %+v", i, st.FetchedBytes, limit, st)
		}
	}
	sent := rig.peerBytes()
	if sent != fetched+int64(len(out)) {
		t.Errorf("peer servers sent %d bytes; workers fetched %d and the driver copied %d", sent, fetched, len(out))
	}
	if fetched < size {
		t.Errorf("workers fetched %d bytes from peers: the flow moved nothing between workers, the test shows nothing", fetched)
	}
	t.Logf("driver %d B, peers %d B (workers fetched %d B, driver copied %d B)", rig.driver.bytes.Load(), sent, fetched, len(out))
}

// TestFanOutFanInBytesThroughDriver is the same flow with workers that
// stage from the driver's repository: every intermediate goes up to the
// driver and down again to each alloc that reads it.
func TestFanOutFanInBytesThroughDriver(t *testing.T) {
	const gens, users, workers, size = 8, 4, 3, 64 << 10
	rig := newTransferRig(t, workers, false)
	rig.run(t, fanFlow(gens, users, size))
	if got, least := rig.driver.bytes.Load(), int64(2*gens*(size+2)); got < least {
		t.Errorf("blob bytes through the driver = %d, want at least %d (each intermediate up and down)", got, least)
	}
}

// genUse returns a flow of two tasks, and their digests: gen writes an
// intermediate (genOut), which use reads; use, of two cpus, is too big
// for a worker of one.
func genUse(t *testing.T) (*ebb.Graph, []digest.Digest) {
	t.Helper()
	env := []string{"PATH=/usr/bin:/bin"}
	flow := &ebb.Flow{Name: "gen-use", Tasks: []ebb.Task{
		{Name: "gen", Env: env, Resources: ebb.Resources{ebb.CPU: 1}, Outputs: []string{"out"},
			Argv: []string{"sh", "-c", "echo intermediate > out"}},
		{Name: "use", Env: env, Resources: ebb.Resources{ebb.CPU: 2}, Outputs: []string{"out"},
			Inputs: []ebb.Input{{Name: "in", Task: "gen", Output: "out"}},
			Argv:   []string{"sh", "-c", "wc -c < in > out"}},
	}}
	g, err := flow.Graph()
	if err != nil {
		t.Fatal(err)
	}
	digests, err := g.Digests(nil)
	if err != nil {
		t.Fatal(err)
	}
	return g, digests
}

// genOut is the digest of gen's output in genUse.
var genOut = digest.FromString("intermediate\n")

// checkUse checks that e, an eval of genUse, left use's output (the
// size of gen's) in the driver's own store.
func checkUse(t *testing.T, rig *transferRig, e *runner.Eval) {
	t.Helper()
	rc, err := rig.dir.Get(t.Context(), e.Outputs()["use/out"])
	if err != nil {
		t.Fatalf("the sink's output is not in the driver's store: %v", err)
	}
	defer rc.Close()
	if b, _ := io.ReadAll(rc); strings.TrimSpace(string(b)) != "13" {
		t.Errorf("use/out = %q, want 13", b)
	}
}

// TestLostIntermediateRecomputed: the worker holding an intermediate is
// lost before the task that reads it runs; the task that made it runs
// again on the worker left, and the flow succeeds.
func TestLostIntermediateRecomputed(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	rig := newTransferRigCPU(t, []float64{1, 2}, true)
	g, digests := genUse(t)
	demand := make(chan struct{})
	var once sync.Once
	e, err := runner.NewEval(ctx, g, digests, runner.EvalConfig{Repository: rig.repo,
		OnDemand: func() { once.Do(func() { close(demand) }) }})
	if err != nil {
		t.Fatal(err)
	}
	work := func(ctx context.Context, w *rigWorker, cpu float64) <-chan error {
		a, err := pool.Allocate(ctx, w.client, ebb.Requirements{Min: ebb.Resources{ebb.CPU: cpu}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- e.Work(ctx, a) }()
		return done
	}
	ctx0, stop0 := context.WithCancel(ctx)
	done0 := work(ctx0, rig.workers[0], 1)
	select {
	case <-demand: // gen is done on worker 0; use waits for a bigger alloc
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	if p := e.Progress(); p.Done != 1 || p.Ready != 1 {
		t.Fatalf("progress before the loss = %+v, want gen done and use ready", p)
	}
	rig.workers[0].stopPeer() // worker 0 and its blobs are gone
	stop0()
	<-done0
	done1 := work(ctx, rig.workers[1], 2)
	if err := e.Wait(ctx); err != nil {
		t.Fatalf("eval after losing the intermediate: %v", err)
	}
	if err := <-done1; err != nil {
		t.Errorf("Work on worker 1: %v", err)
	}
	if p := e.Progress(); p.Done != 2 {
		t.Errorf("progress = %+v, want 2 tasks done", p)
	}
	checkUse(t, rig, e)
	if got := rig.workers[1].cache.Stats().FetchedBytes; got != 0 {
		t.Errorf("worker 1 fetched %d bytes; gen should have run again there", got)
	}
}

// TestDrainedAllocGivesUpItsIntermediates: an alloc drained while a task
// not yet run reads an output that its worker holds copies that output
// to the driver before its Work returns, so that the worker may stop
// without the task that made it running again. So does an output of a
// task found in the cache, which ran there for an earlier eval of the
// run (a driver that died): it is copied when the eval looks it up.
func TestDrainedAllocGivesUpItsIntermediates(t *testing.T) {
	for _, cached := range []bool{false, true} {
		t.Run(map[bool]string{false: "made", true: "cached"}[cached], func(t *testing.T) {
			drainedIntermediates(t, cached)
		})
	}
}

func drainedIntermediates(t *testing.T, cached bool) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	rig := newTransferRigCPU(t, []float64{1, 2}, true)
	g, digests := genUse(t)
	cache := repositorytest.NewCache()
	// eval runs an eval of flow with worker 0 alone until use waits
	// for a bigger alloc, and drains it when drain is set.
	eval := func(drain bool) *runner.Eval {
		demand := make(chan struct{})
		var once sync.Once
		e, err := runner.NewEval(ctx, g, digests, runner.EvalConfig{Repository: rig.repo, Cache: cache,
			OnDemand: func() { once.Do(func() { close(demand) }) }})
		if err != nil {
			t.Fatal(err)
		}
		a0, err := pool.Allocate(ctx, rig.workers[0].client, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		wctx, stop := context.WithCancel(ctx)
		done0 := make(chan error, 1)
		go func() { done0 <- e.Work(wctx, a0) }()
		select {
		case <-demand: // gen is done; use waits for a bigger alloc
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
		if drain && !e.Drain(a0.ID()) {
			t.Fatalf("Drain(%s) = false, want the alloc working", a0.ID())
		}
		if !drain {
			stop() // its driver dies
		}
		if err := <-done0; drain && err != nil {
			t.Fatalf("Work on the drained alloc: %v", err)
		}
		stop()
		if err := a0.Free(ctx); err != nil {
			t.Fatal(err)
		}
		return e
	}
	if cached {
		eval(false) // gen runs on worker 0 and stays there
		if _, err := rig.dir.Stat(ctx, genOut); !errors.Is(err, ebb.ErrNotExist) {
			t.Fatalf("the driver's store has the intermediate before any drain (%v): the test shows nothing", err)
		}
	}
	e := eval(true)
	if p := e.Progress(); p.Done+p.Cached != 1 || p.Ready != 1 {
		t.Fatalf("progress after the drain = %+v, want gen done and use ready", p)
	}
	if _, err := rig.dir.Stat(ctx, genOut); err != nil {
		t.Errorf("the driver's store lacks the intermediate once the drained alloc's Work returned: %v", err)
	}
	rig.workers[0].stopPeer() // worker 0 stops, with its blobs
	a1, err := pool.Allocate(ctx, rig.workers[1].client, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 2}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	done1 := make(chan error, 1)
	go func() { done1 <- e.Work(ctx, a1) }()
	if err := e.Wait(ctx); err != nil {
		t.Fatalf("eval after the drained worker stopped: %v", err)
	}
	if err := <-done1; err != nil {
		t.Errorf("Work on worker 1: %v", err)
	}
	checkUse(t, rig, e)
	// use read gen's output from the driver; gen did not run again on
	// worker 1 (which would have fetched nothing).
	if got := rig.workers[1].cache.Stats().FetchedBytes; got != 13 {
		t.Errorf("worker 1 fetched %d bytes, want gen's 13 from the driver: gen ran again", got)
	}
}
