package clustertest_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/clustertest"
	"github.com/ebbflow/ebb/internal/proctest"
)

func newProvider(t *testing.T) cluster.Provider {
	p := clustertest.NewProvider(clustertest.ProviderConfig{Shapes: []cluster.Shape{
		{Name: "big", Resources: ebb.Resources{ebb.CPU: 16, ebb.Mem: 64 << 30}, Price: 4},
		{Name: "small", Resources: ebb.Resources{ebb.CPU: 2, ebb.Mem: 4 << 30}, Price: 1},
	}})
	t.Cleanup(func() { p.Close() })
	return p
}

func TestProviderConformance(t *testing.T) {
	clustertest.RunProvider(t, clustertest.SuiteConfig{New: newProvider})
}

// The suite is only as good as the breaches it catches: each bug below
// breaks the fake provider in one way, and TestRunProviderCatchesBugs runs
// the suite against it in a child process (RunProvider takes a real
// *testing.T, whose failures would fail this test), checking that the
// subtests named fail.
const brokenEnv = "CLUSTERTEST_BROKEN"

var bugs = []struct {
	bug      string
	wantFail []string
}{
	{"none", nil},
	{"launch-ignores-cancel", []string{"Launch/Cancelled"}},
	{"terminate-not-idempotent", []string{"Terminate/Gone", "Terminate/Unknown"}},
	{"launch-wrong-shape", []string{"Launch/Up"}},
	{"launch-any-shape", []string{"Launch/Unknown"}},
	{"shapes-shared", []string{"Shapes"}},
}

func TestBrokenProviderChild(t *testing.T) {
	bug := os.Getenv(brokenEnv)
	if bug == "" {
		t.Skip("run by TestRunProviderCatchesBugs")
	}
	clustertest.RunProvider(t, clustertest.SuiteConfig{New: func(t *testing.T) cluster.Provider {
		return &brokenProvider{Provider: newProvider(t).(*clustertest.Provider), bug: bug}
	}})
}

func TestRunProviderCatchesBugs(t *testing.T) {
	for _, b := range bugs {
		t.Run(b.bug, func(t *testing.T) {
			t.Parallel()
			proctest.CheckBroken(t, "TestBrokenProviderChild", brokenEnv+"="+b.bug, b.wantFail)
		})
	}
}

// brokenProvider wraps the fake provider with one bug.
type brokenProvider struct {
	*clustertest.Provider
	bug    string
	shapes []cluster.Shape
}

func (p *brokenProvider) Shapes() []cluster.Shape {
	if p.bug == "shapes-shared" {
		if p.shapes == nil {
			p.shapes = p.Provider.Shapes()
		}
		return p.shapes
	}
	return p.Provider.Shapes()
}

func (p *brokenProvider) Launch(ctx context.Context, shape cluster.Shape, labels ebb.Labels) (cluster.Worker, error) {
	switch p.bug {
	case "launch-ignores-cancel":
		ctx = context.WithoutCancel(ctx)
	case "launch-any-shape", "launch-wrong-shape":
		shapes := p.Provider.Shapes()
		if p.bug == "launch-wrong-shape" || !slices.ContainsFunc(shapes, func(s cluster.Shape) bool { return s.Name == shape.Name }) {
			shape = shapes[0]
		}
	}
	return p.Provider.Launch(ctx, shape, labels)
}

func (p *brokenProvider) Terminate(ctx context.Context, id cluster.WorkerID) error {
	if p.bug == "terminate-not-idempotent" {
		if p.Provider.Pool(id) == nil {
			return fmt.Errorf("no worker %s: %w", id, ebb.ErrNotExist)
		}
	}
	return p.Provider.Terminate(ctx, id)
}
