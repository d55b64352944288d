package stealer

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool"
	"github.com/grailbio/base/status"
)

// gatedCluster grants its allocs from c once open is closed.
type gatedCluster struct {
	c    cluster.Cluster
	open chan struct{}
}

func (g gatedCluster) Allocate(ctx context.Context, req ebb.Requirements, labels ebb.Labels) (pool.Alloc, error) {
	select {
	case <-g.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.c.Allocate(ctx, req, labels)
}

// openTasks returns the titles and statuses of g's tasks not yet done.
func openTasks(g *status.Group) []string {
	var out []string
	for _, t := range g.Tasks() {
		if v := t.Value(); v.End.IsZero() {
			out = append(out, v.Title+": "+v.Status)
		}
	}
	return out
}

// A stealer's Status group counts its allocs and requests, and shows
// each request in flight as a task until it is granted.
func TestStatusShowsAllocsAndRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := memPool(t, cpus(4))
		ev := newFakeEval()
		var rec recorder
		gate := gatedCluster{c: cluster.NewStatic(p), open: make(chan struct{})}
		cfg := rec.config(nil)
		cfg.Cluster = gate
		var st status.Status
		g := st.Group("stealer")
		cfg.Status = g
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		errc := start(ctx, s, ev)
		ev.Ready(dem(cpus(1), 2))
		advance(time.Second)
		if got, want := g.Value().Status, "0 allocs held, 1 request in flight"; got != want {
			t.Errorf("status while a request waits: %q, want %q\n%s", got, want, &rec)
		}
		if got := openTasks(g); len(got) != 1 || !strings.HasPrefix(got[0], "request r1: asking for 2 cpu") {
			t.Errorf("status tasks while a request waits: %q, want request r1 asking for 2 cpu", got)
		}
		close(gate.open)
		advance(time.Second)
		if got, want := g.Value().Status, "1 alloc held (2 cpu), 0 requests in flight"; got != want {
			t.Errorf("status once granted: %q, want %q\n%s", got, want, &rec)
		}
		if got := openTasks(g); len(got) != 0 {
			t.Errorf("status tasks once granted: %q, want none", got)
		}
		cancel()
		<-errc
		if got, want := g.Value().Status, "0 allocs held, 0 requests in flight"; got != want {
			t.Errorf("status after Run: %q, want %q", got, want)
		}
	})
}
