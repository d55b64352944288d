package runner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository/repositorytest"
	"github.com/ebbflow/ebb/stealer"
)

// What one run learns of its tasks' durations, the next run of the flow
// starts from: its first Demand already says how long its tasks take,
// and its TaskDuration how long tasks took lately.
func TestHistoryCarriesDurations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		repo, cache := repositorytest.NewStore(), repositorytest.NewCache()
		flow := func(version int) *ebb.Flow {
			f := &ebb.Flow{Name: "daily"}
			for i := range 4 {
				f.Tasks = append(f.Tasks, ebb.Task{
					Name: fmt.Sprintf("align-%d", i), FuncKey: fmt.Sprintf("align/%d/v%d", i, version), Kind: "align",
					Resources: ebb.Resources{ebb.CPU: 1},
					Func: func(ctx context.Context, _ ebb.FuncEnv) error {
						select {
						case <-time.After(20 * time.Minute):
							return nil
						case <-ctx.Done():
							return ctx.Err()
						}
					},
				})
			}
			return f
		}
		p := memPool(t, ebb.Resources{ebb.CPU: 4})
		r, err := New(Config{Flow: flow(1), Cluster: static(p), Repository: repo, Cache: cache}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		h, err := loadHistory(t.Context(), cache, repo, flow(2))
		if err != nil || len(h.Kinds["align"]) != 4 || h.TaskDuration != 20*time.Minute {
			t.Fatalf("history after a run: %+v, %v; want 4 durations of align, and tasks of 20m lately", h, err)
		}

		// The next day's tasks (new versions, so not in the cache).
		g, _ := flow(2).Graph()
		digests, _ := g.Digests(nil)
		e, err := NewEval(t.Context(), g, digests, EvalConfig{History: h.Kinds, TaskDuration: h.TaskDuration, Cache: cache, Repository: repo})
		if err != nil {
			t.Fatal(err)
		}
		a, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- e.Work(ctx, a) }()
		synctest.Wait()
		d := e.Demand()
		if len(d) != 1 || d[0].Count != 3 || d[0].Duration != 20*time.Minute || d[0].AtLeast {
			t.Errorf("first Demand of the next run: %+v, want 3 tasks of 20m, known from history", d)
		}
		if got := e.TaskDuration(); got != 20*time.Minute {
			t.Errorf("TaskDuration of the next run before any task ends = %v, want 20m from history", got)
		}
		cancel()
		<-done
		a.Free(context.Background())
	})
}

// A history keeps what the stealer learned of the cluster, and a blob
// with a negative duration is refused as corrupt.
func TestHistoryKeepsClusterLatencies(t *testing.T) {
	repo, cache := repositorytest.NewStore(), repositorytest.NewCache()
	flow := &ebb.Flow{Name: "daily"}
	want := history{Kinds: stealer.Profile{"align": {time.Minute}}, TaskDuration: time.Minute,
		Cluster: stealer.Learned{Latency: []time.Duration{90 * time.Second}, Cancelled: []time.Duration{3 * time.Minute}}}
	if err := saveHistory(t.Context(), cache, repo, flow, want); err != nil {
		t.Fatal(err)
	}
	got, err := loadHistory(t.Context(), cache, repo, flow)
	want.Version = historyVersion
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("loadHistory = %+v, %v; want %+v", got, err, want)
	}
	bad := want
	bad.Cluster.Latency = []time.Duration{-time.Second}
	if err := saveHistory(t.Context(), cache, repo, flow, bad); err != nil {
		t.Fatal(err)
	}
	if _, err := loadHistory(t.Context(), cache, repo, flow); !errors.Is(err, ebb.ErrCorrupt) {
		t.Errorf("loadHistory of a negative latency: %v, want ebb.ErrCorrupt", err)
	}
	bad = want
	bad.SizeFit = stealer.SizeFit{XX: -1}
	if err := saveHistory(t.Context(), cache, repo, flow, bad); err != nil {
		t.Fatal(err)
	}
	if _, err := loadHistory(t.Context(), cache, repo, flow); !errors.Is(err, ebb.ErrCorrupt) {
		t.Errorf("loadHistory of a size fit of negative xx: %v, want ebb.ErrCorrupt", err)
	}
	bad = want
	bad.Sizes = stealer.Sizes{"align-1": 100}
	if err := saveHistory(t.Context(), cache, repo, flow, bad); err != nil {
		t.Fatal(err)
	}
	if _, err := loadHistory(t.Context(), cache, repo, flow); !errors.Is(err, ebb.ErrCorrupt) {
		t.Errorf("loadHistory of a task's size of 100: %v, want ebb.ErrCorrupt", err)
	}
}

// What each task took against its kind in one run, the next run of the
// flow starts from: of tasks of one kind, the one that ran longest the
// day before starts first, since it ends the flow last; and a task whose
// result the next run finds in the cache keeps its size.
func TestHistoryCarriesTaskSizes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		repo, cache := repositorytest.NewStore(), repositorytest.NewCache()
		took := []time.Duration{10 * time.Minute, 10 * time.Minute, 40 * time.Minute, 10 * time.Minute}
		var mu sync.Mutex
		var started []string
		flow := func(version int, cached string) *ebb.Flow {
			f := &ebb.Flow{Name: "daily"}
			for i, d := range took {
				name := fmt.Sprintf("align-%d", i)
				key := fmt.Sprintf("align/%d/v%d", i, version)
				if name == cached {
					key = fmt.Sprintf("align/%d/v1", i)
				}
				f.Tasks = append(f.Tasks, ebb.Task{
					Name: name, FuncKey: key, Kind: "align",
					Resources: ebb.Resources{ebb.CPU: 1},
					Func: func(ctx context.Context, _ ebb.FuncEnv) error {
						mu.Lock()
						started = append(started, name)
						mu.Unlock()
						select {
						case <-time.After(d):
							return nil
						case <-ctx.Done():
							return ctx.Err()
						}
					},
				})
			}
			return f
		}
		run := func(f *ebb.Flow) {
			t.Helper()
			p := memPool(t, ebb.Resources{ebb.CPU: 1})
			r, err := New(Config{Flow: f, Cluster: static(p), Repository: repo, Cache: cache}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Run(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		run(flow(1, ""))
		if want := []string{"align-0", "align-1", "align-2", "align-3"}; !slices.Equal(started, want) {
			t.Fatalf("first run started %v, want %v: nothing known, first come first", started, want)
		}
		h, err := loadHistory(t.Context(), cache, repo, flow(1, ""))
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Sizes) != 4 || h.Sizes["align-2"] < 1.5 || h.Sizes["align-0"] > 0.75 || h.Sizes["align-3"] > 0.75 {
			t.Fatalf("sizes after the first run: %v; want align-2 about twice its kind's mean, the others about half", h.Sizes)
		}

		started = nil
		run(flow(2, "align-1"))
		if want := []string{"align-2", "align-0", "align-3"}; !slices.Equal(started, want) {
			t.Errorf("the next run started %v, want %v: the longest the day before first", started, want)
		}
		h2, err := loadHistory(t.Context(), cache, repo, flow(2, ""))
		if err != nil {
			t.Fatal(err)
		}
		if h2.Sizes["align-1"] != h.Sizes["align-1"] || len(h2.Sizes) != 4 {
			t.Errorf("sizes after the next run: %v; want align-1's, cached, kept at %v", h2.Sizes, h.Sizes["align-1"])
		}
		// The first run had no sizes to check; in the next, its tasks
		// took just what their sizes said.
		if f := h.SizeFit; f != (stealer.SizeFit{}) {
			t.Errorf("size fit after the first run: %+v, want none", f)
		}
		if f := h2.SizeFit; f.XX <= 0 || math.Abs(f.XY/f.XX-1) > 1e-6 {
			t.Errorf("size fit after the next run: %+v, want a slope of 1", f)
		}
	})
}
