package runner

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
)

// slowStore holds its first Save until release is closed, and keeps the
// last State saved.
type slowStore struct {
	release chan struct{}
	mu      sync.Mutex
	calls   int
	last    State
}

func (s *slowStore) Load(context.Context) (*State, error) { return nil, ebb.ErrNotExist }

func (s *slowStore) Save(_ context.Context, st *State) error {
	s.mu.Lock()
	s.calls++
	first := s.calls == 1
	s.mu.Unlock()
	if first {
		<-s.release
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = *st
	s.last.Aux = append([]AllocRef(nil), st.Aux...)
	return nil
}

// Two auxiliary allocs recorded at once (two stealer goroutines) both
// reach the saved State, whatever order their writes would have taken: a
// save's snapshot is never written over a later one's.
func TestConcurrentSavesKeepEveryAlloc(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pooltest.NewPool(pooltest.PoolConfig{Nodes: []ebb.Resources{{ebb.CPU: 4}}})
		defer p.Close()
		store := &slowStore{release: make(chan struct{})}
		flow := &ebb.Flow{Tasks: []ebb.Task{{Name: "t", FuncKey: "t", Func: func(context.Context, ebb.FuncEnv) error { return nil }}}}
		r, err := New(Config{Flow: flow, Cluster: cluster.NewStatic(p), Store: store}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var allocs []pool.Alloc
		for range 2 {
			a, err := pool.Allocate(t.Context(), p, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			allocs = append(allocs, a)
		}
		var wg sync.WaitGroup
		wg.Go(func() { r.acquired(t.Context(), allocs[0]) })
		synctest.Wait() // the first save holds its snapshot, of one alloc
		wg.Go(func() { r.acquired(t.Context(), allocs[1]) })
		synctest.Wait()
		close(store.release)
		wg.Wait()
		if got := len(store.last.Aux); got != 2 {
			t.Errorf("the saved State holds %d auxiliary allocs, want both", got)
		}
	})
}
