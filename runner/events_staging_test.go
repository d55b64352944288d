package runner_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool/local"
	"github.com/ebbflow/ebb/repository"
	"github.com/ebbflow/ebb/runner"
)

// TestEventsStaging: a task that reads and writes files has, between
// started and finished, a stage-in event (its inputs) and a stage-out
// event (its outputs), with the pool's figures: each file's size, and
// where it came from or went.
func TestEventsStaging(t *testing.T) {
	ctx := t.Context()
	repo, err := repository.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, err := local.New(local.Config{Dir: t.TempDir(), Resources: ebb.Resources{ebb.CPU: 2, ebb.Mem: 1 << 30}, Repository: repo})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	env := []string{"PATH=/usr/bin:/bin"}
	cpu := ebb.Resources{ebb.CPU: 1}
	flow := &ebb.Flow{Name: "staging", Tasks: []ebb.Task{
		{Name: "make", Env: env, Resources: cpu, Outputs: []string{"a", "b"},
			Argv: []string{"sh", "-c", "head -c 1000 /dev/zero > a; printf 12345 > b"}},
		{Name: "use", Env: env, Resources: cpu, Outputs: []string{"out"},
			Inputs: []ebb.Input{{Name: "x", Task: "make", Output: "a"}, {Name: "y", Task: "make", Output: "b"}},
			Argv:   []string{"sh", "-c", "cat x y > out"}},
	}}
	bus := runner.NewEventBus()
	sub := bus.Subscribe(0)
	r, err := runner.New(runner.Config{Flow: flow, Cluster: cluster.NewStatic(p), Repository: repo, Events: bus}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	sub.Close()
	stories := map[string][]string{}
	staged := map[string]string{}
	for {
		ev, err := sub.Next(ctx)
		if errors.Is(err, ebb.ErrClosed) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Task == "" {
			continue
		}
		stories[ev.Task] = append(stories[ev.Task], ev.Kind.String())
		if ev.Kind != runner.EventStageIn && ev.Kind != runner.EventStageOut {
			continue
		}
		var files []string
		for _, f := range ev.Transfers {
			files = append(files, fmt.Sprintf("%s=%d@%s", f.Name, f.Bytes, f.Where))
			if f.Start.IsZero() || f.Duration <= 0 || f.Digest == "" {
				t.Errorf("%s %s: file %+v without its start, duration or digest", ev.Task, ev.Kind, f)
			}
		}
		staged[ev.Task+" "+ev.Kind.String()] = fmt.Sprintf("%d %s", ev.Bytes, strings.Join(files, " "))
		if ev.AllocID == "" || ev.Pool != p.ID() || ev.Duration <= 0 {
			t.Errorf("%s %s: %+v; want where and how long", ev.Task, ev.Kind, ev)
		}
	}
	for task, want := range map[string]string{
		"make": "queued started stage-out finished",
		"use":  "queued started stage-in stage-out finished",
	} {
		if got := strings.Join(stories[task], " "); got != want {
			t.Errorf("%s: %q, want %q", task, got, want)
		}
	}
	for k, want := range map[string]string{
		"make stage-out": "1005 a=1000@repository b=5@repository",
		"use stage-in":   "1005 x=1000@repository y=5@repository",
		"use stage-out":  "1005 out=1005@repository",
	} {
		if got := staged[k]; got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
}
