package remote

import (
	"context"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/clustertest"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

// TestServeElastic serves an Elastic cluster, whose alloc IDs hold a
// slash ("WORKER/ALLOC"): every call on such an alloc reaches it.
func TestServeElastic(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prov := clustertest.NewProvider(clustertest.ProviderConfig{Run: func(ctx context.Context, cfg pool.ExecConfig, env ebb.FuncEnv) pool.Result {
		return pool.Result{}
	}})
	defer prov.Close()
	e, err := cluster.NewElastic(cluster.ElasticConfig{Provider: prov, BatchWindow: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- e.Run(rctx) }()
	defer func() { stop(); <-ran }()
	held, err := e.Allocate(ctx, ebb.Requirements{Min: ebb.Resources{"cpu": 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}

	c := dial(t, serveHTTP(t, newServer(t, ServerConfig{Pool: e})))
	a, err := c.Alloc(ctx, held.ID())
	if err != nil {
		t.Fatalf("Alloc(%q): %v", held.ID(), err)
	}
	if _, err := a.Keepalive(ctx, time.Minute); err != nil {
		t.Errorf("Keepalive of %s: %v", a.ID(), err)
	}
	x, err := a.Put(ctx, digest.FromString("elastic"), pool.ExecConfig{Argv: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := x.Wait(ctx); err != nil || !r.OK() {
		t.Errorf("Wait = %+v, %v", r, err)
	}
	if err := a.Free(ctx); err != nil {
		t.Errorf("Free of %s: %v", a.ID(), err)
	}
	if _, err := held.Inspect(ctx); err == nil {
		t.Errorf("alloc %s still alive after a remote Free", held.ID())
	}
}
