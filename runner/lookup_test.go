package runner

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository/repositorytest"
	"github.com/opencontainers/go-digest"
)

// countingCache counts its lookups.
type countingCache struct {
	*repositorytest.Cache
	gets atomic.Int64
}

func (c *countingCache) Get(ctx context.Context, key digest.Digest) (pool.Result, error) {
	c.gets.Add(1)
	return c.Cache.Get(ctx, key)
}

// A flow with thousands of sinks is looked up on several goroutines:
// every needed task once, each cached task with its own outputs, the
// others left to run, as one by one.
func TestNewEvalLooksSinksUpInParallel(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0))))
	const sinks, chains = 3000, 200
	f := &ebb.Flow{Name: "many-sinks"}
	for i := range sinks {
		f.Tasks = append(f.Tasks, ebb.Task{Name: fmt.Sprintf("s%04d", i), Argv: []string{"true", fmt.Sprint(i)}, Outputs: []string{"o"}})
	}
	for i := range chains { // a source feeding a sink: looked up once its sink is not cached
		src := fmt.Sprintf("src%03d", i)
		f.Tasks = append(f.Tasks,
			ebb.Task{Name: src, Argv: []string{"true", src}, Outputs: []string{"o"}},
			ebb.Task{Name: fmt.Sprintf("dst%03d", i), Argv: []string{"cat", "in"}, Outputs: []string{"o"},
				Inputs: []ebb.Input{{Name: "in", Task: src, Output: "o"}}})
	}
	g, err := f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	digests, err := g.Digests(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	repo := repositorytest.NewStore()
	cache := &countingCache{Cache: repositorytest.NewCache()}
	want := map[int32]digest.Digest{} // cached task → its output
	for i := range int32(len(f.Tasks)) {
		name := f.Tasks[i].Name
		// Every third sink and every other chain's sink are cached;
		// the sources only where their sink is not (so read).
		cached := strings.HasPrefix(name, "s") && i%3 == 0 || strings.HasPrefix(name, "dst") && i%4 == 1 ||
			strings.HasPrefix(name, "src") && i%4 == 2
		if !cached {
			continue
		}
		d, err := repo.Put(ctx, strings.NewReader(name))
		if err != nil {
			t.Fatal(err)
		}
		if err := cache.Put(ctx, digests[i], pool.Result{Outputs: map[string]digest.Digest{"o": d}}); err != nil {
			t.Fatal(err)
		}
		want[i] = d
	}
	e, err := NewEval(ctx, g, digests, EvalConfig{Cache: cache, Repository: repo})
	if err != nil {
		t.Fatal(err)
	}
	looked := 0
	for i := range int32(len(f.Tasks)) {
		st := e.tasks[i]
		name := f.Tasks[i].Name
		if d, ok := want[i]; ok && (!strings.HasPrefix(name, "src") || e.tasks[i+1].state != cached) {
			if st.state != cached || st.outputs["o"] != d {
				t.Errorf("task %s: state %v, outputs %v; want cached with %s", name, st.state, st.outputs, d)
			}
		} else if st.state == cached {
			t.Errorf("task %s cached, want it to run", name)
		}
		if st.state != unneeded {
			looked++
		}
	}
	if got := cache.gets.Load(); got != int64(looked) {
		t.Errorf("%d cache lookups for %d needed tasks, want one each", got, looked)
	}
	if p := e.Progress(); p.Cached == 0 || p.Cached >= p.Tasks {
		t.Errorf("progress %+v: want some tasks cached and some not", p)
	}
}
