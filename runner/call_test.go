package runner

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool/local"
)

// TestGoexitFailsTask: a func task that calls runtime.Goexit on the local
// pool, which runs it on the runner's own goroutine (see caller), fails
// the run as a failed task; the run does not hang.
func TestGoexitFailsTask(t *testing.T) {
	p, err := local.New(local.Config{Resources: ebb.Resources{ebb.CPU: 2, ebb.Mem: 4 << 30}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	flow := noopFlow(20, false)
	flow.Tasks[7].Func = func(context.Context, ebb.FuncEnv) error { runtime.Goexit(); return nil }
	flow.Tasks[7].FuncKey = "goexit"
	r, err := New(Config{Flow: flow, Cluster: cluster.NewStatic(p)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // bounds a hang
	defer cancel()
	err = r.Run(ctx)
	var terr *TaskError
	if !errors.As(err, &terr) || terr.Task != flow.Tasks[7].Name || !strings.Contains(terr.Result.Error, "Goexit") {
		t.Fatalf("Run = %v; want task %s failed by Goexit", err, flow.Tasks[7].Name)
	}
}
