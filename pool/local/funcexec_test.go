package local

import (
	"context"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// TestFuncExecAllocs guards the cost of the in-process exec that flows
// of Go funcs run per task: Put, Wait and Remove of a func that does
// nothing and holds one resource. What it allocates is the exec (its
// state, the channel that says it ended, and the start of its goroutine)
// and the Result's fresh Resources map (two: the map and its one group);
// the amounts it holds live inside the exec.
func TestFuncExecAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("counts allocations over a few thousand execs")
	}
	ctx := context.Background()
	p := newPool(t, Config{})
	a := accept(t, p, ebb.Resources{ebb.CPU: 1})
	cfg := pool.ExecConfig{
		Func:      func(context.Context, ebb.FuncEnv) error { return nil },
		Resources: ebb.Resources{ebb.CPU: 0.001},
	}
	const n = 2000
	ids := execIDs(n)
	i := 0
	perExec := testing.AllocsPerRun(n-1, func() {
		e, err := a.Put(ctx, ids[i], cfg)
		if err != nil {
			t.Fatal(err)
		}
		r, err := e.Wait(ctx)
		if err != nil || !r.OK() || r.Resources[ebb.CPU] != 0.001 {
			t.Fatalf("Wait = %+v, %v; want success holding 0.001 cpu", r, err)
		}
		if err := a.Remove(ctx, ids[i]); err != nil {
			t.Fatal(err)
		}
		i++
	})
	t.Logf("%.2f allocations an exec", perExec)
	if perExec > maxFuncExecAllocs {
		t.Errorf("%.2f allocations an exec, want at most %d", perExec, maxFuncExecAllocs)
	}
}

const maxFuncExecAllocs = 5
