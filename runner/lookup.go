package runner

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/ebbflow/ebb"
	"github.com/opencontainers/go-digest"
)

// lookup returns the outputs of task i's cached result, if the cache has a
// successful one whose outputs are all still in the repository. An
// output that only a worker holds (a resumed run's, whose killed driver
// saw its task end there: repository.Located.Keep) is copied into the
// repository first, as a flow's sink's is when it ends (see collect):
// once cached, a task is not run again should that worker go, so its
// outputs must outlive it; a holder that cannot give it leaves the task
// to run.
func (e *Eval) lookup(ctx context.Context, i int32) (map[string]digest.Digest, bool) {
	if e.cfg.Cache == nil {
		return nil, false
	}
	res, err := e.cfg.Cache.Get(ctx, e.digests[i])
	if err != nil {
		if !errors.Is(err, ebb.ErrNotExist) {
			e.cfg.Logger.Warn("cache lookup failed; running the task", "task", e.g.Flow.Tasks[i].Name, "err", err)
		}
		return nil, false
	}
	if !res.OK() {
		return nil, false
	}
	for _, name := range e.g.Flow.Tasks[i].Outputs {
		d, ok := res.Outputs[name]
		if !ok || e.cfg.Repository == nil {
			return nil, false
		}
		if _, err := e.cfg.Repository.Stat(ctx, d); err != nil {
			return nil, false
		}
		if p, ok := e.cfg.Repository.(puller); ok {
			if err := p.Pull(ctx, d); err != nil {
				e.cfg.Logger.Info("a cached output could not be copied from the worker that holds it; running its task",
					"task", e.g.Flow.Tasks[i].Name, "output", name, "err", err)
				return nil, false
			}
		}
	}
	return res.Outputs, true
}

// lookedUp is what lookup said of a task.
type lookedUp struct {
	outputs map[string]digest.Digest
	ok      bool
	done    bool // looked up
}

// minParallelLookups is how many sinks a flow has before lookupSinks
// looks them up on several goroutines: a cache lookup reads and checks a
// file, tens of microseconds, and a million of them, one after another,
// took most of the half minute a cached rerun of a million tasks spent.
const minParallelLookups = 1024

// lookupSinks looks up the flow's sinks, which are always needed (see
// NewEval), on up to GOMAXPROCS goroutines, and returns what lookup said
// of each by task; nil when there is no cache or too few sinks to gain
// by it (NewEval then looks them up one by one). Tasks it did not reach
// before ctx was done are not done.
func (e *Eval) lookupSinks(ctx context.Context) []lookedUp {
	if e.cfg.Cache == nil {
		return nil
	}
	var sinks []int32
	for i := range int32(len(e.g.Flow.Tasks)) {
		if e.dependents.none(i) {
			sinks = append(sinks, i)
		}
	}
	procs := min(runtime.GOMAXPROCS(0), len(sinks)/minParallelLookups)
	if procs < 2 {
		return nil
	}
	out := make([]lookedUp, len(e.g.Flow.Tasks))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range procs {
		wg.Go(func() {
			for ctx.Err() == nil {
				k := next.Add(1) - 1
				if k >= int64(len(sinks)) {
					return
				}
				i := sinks[k]
				outputs, ok := e.lookup(ctx, i)
				out[i] = lookedUp{outputs: outputs, ok: ok, done: ctx.Err() == nil || ok}
			}
		})
	}
	wg.Wait()
	return out
}
