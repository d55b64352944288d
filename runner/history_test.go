package runner

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository/repositorytest"
)

// What one run learns of its tasks' durations, the next run of the flow
// starts from: its first Demand already says how long its tasks take.
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
		if err != nil || len(h["align"]) != 4 {
			t.Fatalf("history after a run: %v, %v; want 4 durations of align", h, err)
		}

		// The next day's tasks (new versions, so not in the cache).
		g, _ := flow(2).Graph()
		digests, _ := g.Digests(nil)
		e, err := NewEval(t.Context(), g, digests, EvalConfig{History: h, Cache: cache, Repository: repo})
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
		cancel()
		<-done
		a.Free(context.Background())
	})
}
