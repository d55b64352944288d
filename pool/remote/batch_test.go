package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
	"github.com/opencontainers/go-digest"
)

// A recorder wraps a handler: it notes every request that reaches it,
// holds the next one a test picks until the test lets it go, and can
// lose the answer of the next one it picks (served, then answered 502).
type recorder struct {
	h http.Handler

	mu    sync.Mutex
	reqs  []recorded
	hold  func(*http.Request) bool
	holdc chan struct{}
	lose  func(*http.Request) bool
}

// recorded is one request: its method and path, and the number of ops or
// IDs of a batch.
type recorded struct {
	method, path string
	n            int
}

func (r recorded) String() string { return fmt.Sprintf("%s %s (%d)", r.method, r.path, r.n) }

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := 0
	if strings.Contains(r.URL.Path, "/execs:") {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		var in struct {
			Ops []json.RawMessage `json:"ops"`
		}
		json.Unmarshal(b, &in)
		n = len(in.Ops) + len(r.URL.Query()["id"])
	}
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, recorded{r.Method, r.URL.Path, n})
	var holdc chan struct{}
	if rec.hold != nil && rec.hold(r) {
		holdc, rec.hold = rec.holdc, nil
	}
	lose := rec.lose != nil && rec.lose(r)
	if lose {
		rec.lose = nil
	}
	rec.mu.Unlock()
	if holdc != nil {
		select {
		case <-holdc:
		case <-r.Context().Done():
			return
		}
	}
	if lose {
		rec.h.ServeHTTP(httptest.NewRecorder(), r)
		http.Error(w, "bad gateway", http.StatusBadGateway)
		return
	}
	rec.h.ServeHTTP(w, r)
}

// holdNext holds the next request for which match is true, until the
// returned function is called.
func (rec *recorder) holdNext(match func(*http.Request) bool) (release func()) {
	c := make(chan struct{})
	rec.mu.Lock()
	rec.hold, rec.holdc = match, c
	rec.mu.Unlock()
	return func() { close(c) }
}

// since returns the requests recorded from the n-th on.
func (rec *recorder) since(n int) []recorded {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.reqs[min(n, len(rec.reqs)):])
}

func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.reqs)
}

// batches returns the batch requests among reqs whose path ends in
// suffix (":batch" or ":wait").
func batches(reqs []recorded, suffix string) []recorded {
	var out []recorded
	for _, r := range reqs {
		if strings.HasSuffix(r.path, suffix) {
			out = append(out, r)
		}
	}
	return out
}

func isMethod(method string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.Method == method }
}

func isBatchPath(suffix string) func(*http.Request) bool {
	return func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, suffix) }
}

// batchClient returns a client of a memory pool's server through rec,
// in process (so that it runs in a synctest bubble), and the pool.
func batchClient(t *testing.T) (*Client, *recorder, *pooltest.Pool) {
	mem := memPool(t)
	rec := &recorder{h: newServer(t, ServerConfig{Pool: mem})}
	c := dial(t, ClientConfig{URL: "http://in-process", Token: testToken, Transport: InProcess(rec)})
	if !c.batch {
		t.Fatal("the client does not batch with a server that has the extension")
	}
	return c, rec, mem
}

func id(s string) pool.ExecID { return digest.FromString(s) }

func sleepArgv(secs int) pool.ExecConfig {
	return pool.ExecConfig{Argv: []string{"sleep", fmt.Sprint(secs)}}
}

// TestBatchAlone checks that a caller without company makes plain
// calls: a Put and a Remove each its own PUT and DELETE, a Wait one poll.
func TestBatchAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		c, rec, _ := batchClient(t)
		a := acceptOne(t, ctx, c)
		n := rec.count()
		e, err := a.Put(ctx, id("alone"), pool.ExecConfig{Argv: []string{"true"}})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := e.Wait(ctx); err != nil || !r.OK() {
			t.Fatalf("Wait = %+v, %v", r, err)
		}
		if err := a.Remove(ctx, id("alone")); err != nil {
			t.Fatal(err)
		}
		got := rec.since(n)
		want := []string{"PUT", "GET " + batchPath(a.ID(), "wait"), "DELETE"}
		if len(got) != len(want) {
			t.Fatalf("a lone Put, Wait and Remove made %v, want %q", got, want)
		}
		for i, w := range want {
			if !strings.HasPrefix(got[i].method+" "+got[i].path, w) {
				t.Errorf("request %d = %v, want %s", i, got[i], w)
			}
		}
	})
}

// TestBatchHold checks that a slow call holds the calls queued behind
// it back for ClientConfig.BatchHold at most: then they go without it.
func TestBatchHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		c, rec, _ := batchClient(t)
		a := acceptOne(t, ctx, c)
		release := rec.holdNext(isMethod("PUT"))
		slow := make(chan error, 1)
		go func() {
			_, err := a.Put(ctx, id("slow"), pool.ExecConfig{Argv: []string{"true"}})
			slow <- err
		}()
		synctest.Wait()
		start := time.Now()
		if _, err := a.Put(ctx, id("quick"), pool.ExecConfig{Argv: []string{"true"}}); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != DefaultBatchHold {
			t.Errorf("a Put behind one that hangs returned after %v, want %v (BatchHold)", d, DefaultBatchHold)
		}
		select {
		case err := <-slow:
			t.Fatalf("the held Put returned (%v) before it was let go", err)
		default:
		}
		release()
		if err := <-slow; err != nil {
			t.Error(err)
		}
	})
}

// TestBatchPutErrors puts execs concurrently while a first put is in
// flight, so that they go as one batch, one of which asks more than the
// alloc holds: it alone fails, with ebb.ErrResources, and the others run.
func TestBatchPutErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		c, rec, _ := batchClient(t)
		a := acceptOne(t, ctx, c)
		release := rec.holdNext(isMethod("PUT"))
		n := rec.count()

		first := make(chan error, 1)
		go func() {
			_, err := a.Put(ctx, id("first"), pool.ExecConfig{Argv: []string{"true"}})
			first <- err
		}()
		synctest.Wait() // the first put is held
		names := []string{"good 1", "good 2", "too big", "good 3"}
		errs := make([]error, len(names))
		var wg sync.WaitGroup
		for i, name := range names {
			cfg := pool.ExecConfig{Argv: []string{"true"}}
			if name == "too big" {
				cfg.Resources = ebb.Resources{"cpu": 100}
			}
			wg.Go(func() {
				_, errs[i] = a.Put(ctx, id(name), cfg)
			})
		}
		synctest.Wait() // the others are queued
		release()
		wg.Wait()
		if err := <-first; err != nil {
			t.Errorf("first Put: %v", err)
		}
		for i, name := range names {
			switch {
			case name == "too big" && !errors.Is(errs[i], ebb.ErrResources):
				t.Errorf("Put of %q in a batch: %v, want ErrResources", name, errs[i])
			case name == "too big" && !strings.Contains(errs[i].Error(), string(id(name))):
				t.Errorf("Put of %q in a batch: %q does not name the exec", name, errs[i])
			case name != "too big" && errs[i] != nil:
				t.Errorf("Put of %q in a batch with a failing one: %v", name, errs[i])
			}
		}
		got := rec.since(n)
		if b := batches(got, ":batch"); len(b) != 1 || b[0].n != len(names) {
			t.Errorf("requests = %v, want one batch of %d", got, len(names))
		}
		execs, err := a.Execs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(execs) != 4 || slices.ContainsFunc(execs, func(e pool.Exec) bool { return e.ID() == id("too big") }) {
			t.Errorf("Execs = %d, want the 4 good ones", len(execs))
		}
	})
}

// TestBatchWaitOutOfOrder waits on many execs that end out of order: each
// Wait returns when its exec ends, the waits share polls, and a wait on a
// removed exec alone fails, with ebb.ErrNotExist.
func TestBatchWaitOutOfOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		c, rec, _ := batchClient(t)
		a := acceptOne(t, ctx, c)
		if _, err := a.Keepalive(ctx, time.Hour); err != nil {
			t.Fatal(err)
		}
		secs := []int{50, 10, 40, 20, 30, 60}
		execs := make([]pool.Exec, len(secs))
		for i, s := range secs {
			var err error
			cfg := sleepArgv(s)
			cfg.Resources = ebb.Resources{"cpu": 0.1}
			if execs[i], err = a.Put(ctx, id(fmt.Sprint("sleep ", i)), cfg); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Remove(ctx, execs[5].ID()); err != nil { // the 60 s one
			t.Fatal(err)
		}
		release := rec.holdNext(isBatchPath(":wait"))
		n := rec.count()
		start := time.Now()
		type waited struct {
			res   pool.Result
			err   error
			after time.Duration
		}
		// The first waits alone; the others, and a second wait on the
		// 10 s exec, queue behind it.
		waits := []int{0, 1, 2, 3, 4, 5, 1}
		out := make([]waited, len(waits))
		var wg sync.WaitGroup
		for i, x := range waits {
			wg.Go(func() {
				r, err := execs[x].Wait(ctx)
				out[i] = waited{r, err, time.Since(start)}
			})
			if i == 0 {
				synctest.Wait() // the first poll is held
			}
		}
		synctest.Wait() // the others are queued
		release()
		wg.Wait()
		for i, x := range waits {
			w := out[i]
			switch {
			case x == 5 && (!errors.Is(w.err, ebb.ErrNotExist) || w.after != 0):
				t.Errorf("Wait of a removed exec among others = %v after %v, want ErrNotExist at once", w.err, w.after)
			case x != 5 && (w.err != nil || !w.res.OK() || w.after != time.Duration(secs[x])*time.Second):
				t.Errorf("Wait of the %d s exec = %+v, %v after %v; want success after %ds", secs[x], w.res, w.err, w.after, secs[x])
			}
		}
		if r1, r2 := out[1].res.Resources, out[6].res.Resources; r1 == nil || r2 == nil {
			t.Errorf("Result.Resources of two Waits on an exec of 0.1 cpu = %v and %v", r1, r2)
		} else if r1["shared"] = 1; r2["shared"] == 1 {
			t.Error("two Waits on one exec got one Result.Resources map")
		}
		got := rec.since(n)
		polls := batches(got, ":wait")
		if len(polls) != len(got) {
			t.Errorf("requests = %v, want wait polls only", got)
		}
		if len(polls) < 2 || polls[1].n != len(execs)-1 {
			t.Errorf("polls = %v, want the waits that queued behind the first in one poll of %d execs", polls, len(execs)-1)
		}
		// Each exec's end answers the poll that held it, whose other
		// execs are polled again; a poll also ends after WaitPoll (20 s).
		// Two polls in flight (the first, and the one of those that
		// queued behind it) make at most two answers per exec's end.
		if len(polls) > 2+2*(len(secs)+50/20) {
			t.Errorf("%d polls for %d waits over 50 s: %v", len(polls), len(execs), polls)
		}
	})
}

// TestBatchWaitMany waits on more execs than a poll names: the waits
// beyond it go in a poll of their own as soon as the first parks, so that
// an exec among them that ends early is not waited for late.
func TestBatchWaitMany(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		c, rec, _ := batchClient(t)
		a := acceptOne(t, ctx, c)
		if _, err := a.Keepalive(ctx, time.Hour); err != nil {
			t.Fatal(err)
		}
		const n, early = maxWaitIDs + 50, maxWaitIDs + 40
		execs := make([]pool.Exec, n)
		for i := range execs {
			secs := 100
			if i == early {
				secs = 10
			}
			var err error
			if execs[i], err = a.Put(ctx, id(fmt.Sprint("many ", i)), sleepArgv(secs)); err != nil {
				t.Fatal(err)
			}
		}
		release := rec.holdNext(isBatchPath(":wait"))
		m := rec.count()
		start := time.Now()
		after := make([]time.Duration, n)
		var wg sync.WaitGroup
		for i, e := range execs {
			wg.Go(func() {
				if r, err := e.Wait(ctx); err != nil || !r.OK() {
					t.Errorf("Wait %d = %+v, %v", i, r, err)
				}
				after[i] = time.Since(start)
			})
			if i == 0 {
				synctest.Wait() // the first poll is held
			}
		}
		synctest.Wait()
		release()
		wg.Wait()
		for i, d := range after {
			want := 100 * time.Second
			if i == early {
				want = 10 * time.Second
			}
			if d != want {
				t.Errorf("Wait %d returned after %v, want %v", i, d, want)
			}
		}
		polls := batches(rec.since(m), ":wait")
		if len(polls) < 3 || polls[0].n != 1 || polls[1].n != maxWaitIDs || polls[2].n != n-1-maxWaitIDs {
			t.Errorf("first polls = %v, want 1, %d and %d execs", polls[:min(3, len(polls))], maxWaitIDs, n-1-maxWaitIDs)
		}
		for _, p := range polls {
			if p.n > maxWaitIDs {
				t.Errorf("a poll of %d execs, want at most %d", p.n, maxWaitIDs)
			}
		}
	})
}

// TestBatchWaitCancel cancels one of the waiters sharing a poll: it
// returns at once with its context's error, and the others get their
// results when their execs end. Once every waiter has gone, the poll's
// request is cancelled and the client's goroutines end (synctest.Test
// fails if any is left).
func TestBatchWaitCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		c, rec, _ := batchClient(t)
		a := acceptOne(t, ctx, c)
		if _, err := a.Keepalive(ctx, time.Hour); err != nil {
			t.Fatal(err)
		}
		var execs []pool.Exec
		for i, secs := range []int{100, 100, 100, 1000} {
			e, err := a.Put(ctx, id(fmt.Sprint("cancel ", i)), sleepArgv(secs))
			if err != nil {
				t.Fatal(err)
			}
			execs = append(execs, e)
		}
		release := rec.holdNext(isBatchPath(":wait"))
		n := rec.count()
		start := time.Now()
		results := make([]error, 3)
		after := make([]time.Duration, 3)
		var wg sync.WaitGroup
		wg.Go(func() {
			_, results[0] = execs[0].Wait(ctx)
			after[0] = time.Since(start)
		})
		synctest.Wait()
		cctx, cancel := context.WithCancel(ctx)
		wg.Go(func() {
			_, results[1] = execs[1].Wait(cctx)
			after[1] = time.Since(start)
		})
		wg.Go(func() {
			r, err := execs[2].Wait(ctx)
			if err == nil && !r.OK() {
				err = fmt.Errorf("result %+v", r)
			}
			results[2], after[2] = err, time.Since(start)
		})
		synctest.Wait()
		release()
		synctest.Wait()
		if polls := batches(rec.since(n), ":wait"); len(polls) != 2 || polls[1].n != 2 {
			t.Fatalf("polls = %v, want the first and one of the two others", polls)
		}
		time.Sleep(10 * time.Second)
		cancel()
		wg.Wait()
		if !errors.Is(results[1], context.Canceled) || after[1] != 10*time.Second {
			t.Errorf("cancelled Wait = %v after %v, want context.Canceled after 10s", results[1], after[1])
		}
		for _, i := range []int{0, 2} {
			if results[i] != nil || after[i] != 100*time.Second {
				t.Errorf("Wait %d beside a cancelled one = %v after %v, want success after 100s", i, results[i], after[i])
			}
		}

		// Every waiter of a poll gone: its request ends.
		release = rec.holdNext(isBatchPath(":wait"))
		n = rec.count()
		cctx, cancel = context.WithCancel(ctx)
		errc := make(chan error, 2)
		go func() {
			_, err := execs[3].Wait(cctx)
			errc <- err
		}()
		synctest.Wait()
		go func() {
			_, err := execs[3].Wait(cctx)
			errc <- err
		}()
		synctest.Wait()
		release()
		synctest.Wait()
		if polls := batches(rec.since(n), ":wait"); len(polls) != 2 {
			t.Fatalf("polls = %v, want two", polls)
		}
		cancel()
		for range 2 {
			if err := <-errc; !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled Wait: %v, want context.Canceled", err)
			}
		}
		synctest.Wait()
		if got := rec.since(n); len(got) != 2 {
			t.Errorf("requests after every waiter left = %v, want no more polls", got)
		}
	})
}

// TestBatchQueuedCancel cancels a Put while it is queued: it returns at
// once and is never sent; the one queued beside it goes alone.
func TestBatchQueuedCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		c, rec, _ := batchClient(t)
		a := acceptOne(t, ctx, c)
		release := rec.holdNext(isMethod("PUT"))
		n := rec.count()
		errc := make(chan error, 3)
		put := func(ctx context.Context, name string) {
			_, err := a.Put(ctx, id(name), pool.ExecConfig{Argv: []string{"true"}})
			errc <- err
		}
		go put(ctx, "held")
		synctest.Wait()
		cctx, cancel := context.WithCancel(ctx)
		go put(cctx, "cancelled")
		synctest.Wait()
		go put(ctx, "kept")
		synctest.Wait()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Put cancelled while queued: %v, want context.Canceled", err)
		}
		release()
		for range 2 {
			if err := <-errc; err != nil {
				t.Errorf("Put: %v", err)
			}
		}
		if got := rec.since(n); len(got) != 2 || got[1].method != "PUT" {
			t.Errorf("requests = %v, want two PUTs", got)
		}
		if _, err := a.Exec(ctx, id("cancelled")); !errors.Is(err, ebb.ErrNotExist) {
			t.Errorf("Exec of a Put cancelled while queued: %v, want ErrNotExist", err)
		}
	})
}

// TestBatchRetry loses the answer of a batch of puts and removes: the
// retry puts nothing twice, and the removes it finds done succeed.
func TestBatchRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		c, rec, mem := batchClient(t)
		a := acceptOne(t, ctx, c)
		for _, name := range []string{"held", "x", "y"} {
			if _, err := a.Put(ctx, id(name), pool.ExecConfig{Argv: []string{"true"}}); err != nil {
				t.Fatal(err)
			}
		}
		execs := mem.Stats().Execs
		release := rec.holdNext(isMethod("DELETE"))
		rec.lose = isBatchPath(":batch")
		n := rec.count()
		errs := make([]error, 4)
		var wg sync.WaitGroup
		wg.Go(func() { errs[0] = a.Remove(ctx, id("held")) })
		synctest.Wait()
		wg.Go(func() { errs[1] = a.Remove(ctx, id("x")) })
		wg.Go(func() { errs[2] = a.Remove(ctx, id("y")) })
		wg.Go(func() { _, errs[3] = a.Put(ctx, id("z"), pool.ExecConfig{Argv: []string{"true"}}) })
		synctest.Wait()
		release()
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("call %d of a batch whose first answer was lost: %v", i, err)
			}
		}
		if b := batches(rec.since(n), ":batch"); len(b) != 2 || b[0].n != 3 || b[1].n != 3 {
			t.Errorf("batches = %v, want one of 3, lost and sent again", b)
		}
		if got := mem.Stats().Execs - execs; got != 1 {
			t.Errorf("a batch sent twice started %d execs, want 1", got)
		}
		if got, err := a.Execs(ctx); err != nil || len(got) != 1 || got[0].ID() != id("z") {
			t.Errorf("Execs = %v, %v; want z alone", got, err)
		}
	})
}

// TestBatchAllocGone checks that a batch on an alloc that has ended fails
// every call in it with ebb.ErrExpired, as each call would.
func TestBatchAllocGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		c, rec, mem := batchClient(t)
		a := acceptOne(t, ctx, c)
		e, err := a.Put(ctx, id("done"), pool.ExecConfig{Argv: []string{"true"}})
		if err != nil {
			t.Fatal(err)
		}
		release := rec.holdNext(isMethod("PUT"))
		errs := make([]error, 3)
		var wg sync.WaitGroup
		wg.Go(func() { _, errs[0] = a.Put(ctx, id("held"), pool.ExecConfig{Argv: []string{"true"}}) })
		synctest.Wait()
		wg.Go(func() { _, errs[1] = a.Put(ctx, id("queued"), pool.ExecConfig{Argv: []string{"true"}}) })
		wg.Go(func() { _, errs[2] = e.Wait(ctx) })
		synctest.Wait()
		if err := mem.Kill(a.ID()); err != nil {
			t.Fatal(err)
		}
		release()
		wg.Wait()
		for i, err := range errs {
			if !errors.Is(err, ebb.ErrExpired) {
				t.Errorf("call %d on an alloc that ended: %v, want ErrExpired", i, err)
			}
		}
	})
}

// TestBatchDrain checks that a draining server refuses the puts of a
// batch, with ebb.ErrUnavailable, and serves its other calls.
func TestBatchDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		c, rec, _ := batchClient(t)
		a := acceptOne(t, ctx, c)
		var e pool.Exec
		for _, name := range []string{"done", "removed"} {
			var err error
			if e, err = a.Put(ctx, id(name), pool.ExecConfig{Argv: []string{"true"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Wait(ctx); err != nil {
				t.Fatal(err)
			}
		}
		e, _ = a.Exec(ctx, id("done"))
		release := rec.holdNext(isMethod("PUT"))
		n := rec.count()
		var (
			errs = make([]error, 4)
			res  pool.Result
			wg   sync.WaitGroup
		)
		wg.Go(func() { _, errs[0] = a.Put(ctx, id("held"), pool.ExecConfig{Argv: []string{"true"}}) })
		synctest.Wait()
		wg.Go(func() { _, errs[1] = a.Put(ctx, id("new"), pool.ExecConfig{Argv: []string{"true"}}) })
		wg.Go(func() { res, errs[2] = e.Wait(ctx) })
		wg.Go(func() { errs[3] = a.Remove(ctx, id("removed")) })
		synctest.Wait()
		rec.h.(*Server).Drain()
		release()
		wg.Wait()
		for i, err := range errs[:2] {
			if !errors.Is(err, ebb.ErrUnavailable) {
				t.Errorf("Put %d on a draining server: %v, want ErrUnavailable", i, err)
			}
		}
		if errs[2] != nil || !res.OK() {
			t.Errorf("Wait in a batch on a draining server = %+v, %v; want the exec's success", res, errs[2])
		}
		if errs[3] != nil {
			t.Errorf("Remove in a batch on a draining server: %v", errs[3])
		}
		if b := batches(rec.since(n), ":batch"); len(b) != 1 || b[0].n != 3 {
			t.Errorf("batches = %v, want one of 3", b)
		}
	})
}

// oldServer counts the requests to batch paths, and with old set serves
// the protocol as a server without the batch extension would: no
// extensions in the pool info, and 404 for the batch paths.
type oldServer struct {
	h   http.Handler
	old bool

	mu      sync.Mutex
	batches int // requests to batch paths
}

func (o *oldServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.URL.Path, "/execs:") {
		o.mu.Lock()
		o.batches++
		o.mu.Unlock()
	}
	switch {
	case !o.old:
		o.h.ServeHTTP(w, r)
	case strings.Contains(r.URL.Path, "/execs:"):
		http.NotFound(w, r)
	case r.URL.Path == prefix+"/pool":
		rr := httptest.NewRecorder()
		o.h.ServeHTTP(rr, r)
		var info map[string]any
		if err := json.Unmarshal(rr.Body.Bytes(), &info); err == nil {
			delete(info, "extensions")
			writeJSON(w, rr.Code, info)
			return
		}
		w.WriteHeader(rr.Code)
		w.Write(rr.Body.Bytes())
	default:
		o.h.ServeHTTP(w, r)
	}
}

// TestBatchNegotiation checks that a client batches only with a server
// that offers the extension and when ClientConfig.NoBatch allows it: with
// an older server, or NoBatch, concurrent calls all work, each its own
// request.
func TestBatchNegotiation(t *testing.T) {
	for _, c := range []struct {
		name    string
		old     bool
		noBatch bool
		batch   bool
	}{
		{"new server", false, false, true},
		{"new server, NoBatch", false, true, false},
		{"old server", true, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			o := &oldServer{h: newServer(t, ServerConfig{Pool: memPool(t)}), old: c.old}
			cfg := ClientConfig{URL: "http://worker", Token: testToken, Transport: loopback(t, o), NoBatch: c.noBatch}
			cl := dial(t, cfg)
			if cl.batch != c.batch {
				t.Errorf("client batches = %v, want %v", cl.batch, c.batch)
			}
			a := acceptOne(t, ctx, cl)
			var wg sync.WaitGroup
			for i := range 16 {
				wg.Go(func() {
					for j := range 10 {
						name := fmt.Sprint("negotiation ", i, " ", j)
						e, err := a.Put(ctx, id(name), pool.ExecConfig{Argv: []string{"true"}})
						if err != nil {
							t.Error(err)
							return
						}
						if r, err := e.Wait(ctx); err != nil || !r.OK() {
							t.Errorf("Wait = %+v, %v", r, err)
						}
						if err := a.Remove(ctx, id(name)); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
			switch {
			case c.batch && o.batches == 0:
				t.Errorf("no batch request from %d tasks in 16 goroutines", 16*10)
			case !c.batch && o.batches != 0:
				t.Errorf("%d requests to batch paths of a client that does not batch", o.batches)
			}
		})
	}
}

// TestBatchBodyOverLimit checks that a batch body past the limit is
// refused saying so, not as a body cut short.
func TestBatchBodyOverLimit(t *testing.T) {
	s := newServer(t, ServerConfig{Pool: memPool(t)})
	c := dialInProcess(t, s)
	a := acceptOne(t, t.Context(), c)
	for _, tc := range []struct {
		name string
		body string
		says string
	}{
		{"over", `{"ops": [` + strings.Repeat(`{"op":"wait","id":"x"},`, maxJSON/20) + `{}]}`, "body over 8 MiB"},
		{"cut short", `{"ops": [{"op":"wait"`, "malformed JSON body: unexpected EOF"},
	} {
		req := httptest.NewRequest("POST", prefix+"/allocs/"+a.ID()+"/execs:batch", strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), tc.says) {
			t.Errorf("%s: %d %s, want 400 saying %q", tc.name, w.Code, w.Body, tc.says)
		}
	}
}
