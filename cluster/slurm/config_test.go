package slurm

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
)

// TestConfig checks the configurations New refuses before asking Slurm
// anything, and the defaults.
func TestConfig(t *testing.T) {
	cmd := bootstrap.Config{Command: []string{"ebb", "worker"}}
	small := testShapes()[0]
	for name, cfg := range map[string]Config{
		"no command":         {Shapes: testShapes()},
		"empty argv0":        {Bootstrap: bootstrap.Config{Command: []string{""}}, Shapes: testShapes()},
		"no shapes":          {Bootstrap: cmd},
		"invalid shape":      {Bootstrap: cmd, Shapes: []cluster.Shape{{Name: "x"}}},
		"shape twice":        {Bootstrap: cmd, Shapes: []cluster.Shape{small, small}},
		"fractional cpu":     {Bootstrap: cmd, Shapes: []cluster.Shape{{Name: "x", Resources: ebb.Resources{ebb.CPU: 0.5}}}},
		"fractional gpu":     {Bootstrap: cmd, Shapes: []cluster.Shape{{Name: "x", Resources: ebb.Resources{ebb.CPU: 1, ebb.GPU: 0.5}}}},
		"custom resource":    {Bootstrap: cmd, Shapes: []cluster.Shape{{Name: "x", Resources: ebb.Resources{ebb.CPU: 1, "licence": 1}}}},
		"bad prefix":         {Bootstrap: cmd, Shapes: testShapes(), JobPrefix: "a b"},
		"negative poll":      {Bootstrap: cmd, Shapes: testShapes(), PollInterval: -time.Second},
		"negative pending":   {Bootstrap: cmd, Shapes: testShapes(), PendingTimeout: -time.Second},
		"negative timelimit": {Bootstrap: cmd, Shapes: testShapes(), TimeLimit: -time.Second},
	} {
		if _, err := New(context.Background(), cfg); !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("%s: New: %v, want ErrInvalid", name, err)
		}
	}
	c, err := Config{Bootstrap: cmd, Shapes: testShapes()}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.JobPrefix != DefaultJobPrefix || c.PendingTimeout != DefaultPendingTimeout || c.PollInterval != DefaultPollInterval ||
		c.CommandTimeout != DefaultCommandTimeout || c.StopTimeout != DefaultStopTimeout || c.Logger == nil {
		t.Errorf("defaults: %+v", c)
	}
	r, err := shapeRequest(cluster.Shape{Name: "x", Resources: ebb.Resources{ebb.CPU: 4, ebb.Mem: 1<<30 + 1, ebb.Disk: 1 << 20, ebb.GPU: 2}})
	if err != nil || r.CPUs != 4 || r.MemMB != 1025 || r.TmpMB != 1 || r.GPUs != 2 {
		t.Errorf("shapeRequest = %+v, %v; want 4 cpus, 1025 MiB (rounded up), 1 MiB tmp, 2 gpus", r, err)
	}
}

// TestConfigPartition checks what New learns from sinfo: an unknown
// partition is refused, and a shape no node holds fails its launches
// with ErrResources without a job.
func TestConfigPartition(t *testing.T) {
	needSlurm(t)
	ctx := context.Background()
	_, err := New(ctx, Config{Bootstrap: bootstrap.Config{Command: []string{ebbBinary, "worker"}}, Shapes: testShapes(), Partition: "no-such-partition"})
	if !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("New with an unknown partition: %v, want ErrInvalid", err)
	}
	huge := cluster.Shape{Name: "huge", Resources: ebb.Resources{ebb.CPU: 4096, ebb.Mem: 1 << 50}}
	p := newProvider(t, Config{Shapes: append(testShapes(), huge)})
	if _, err := p.Launch(ctx, huge, nil); !errors.Is(err, ebb.ErrResources) {
		t.Errorf("Launch of a shape no node holds: %v, want ErrResources", err)
	}
	if _, err := New(ctx, Config{Bootstrap: bootstrap.Config{Command: []string{"ebb"}}, Shapes: testShapes(), Bin: t.TempDir()}); !errors.Is(err, ebb.ErrUnavailable) {
		t.Errorf("New with no sinfo: %v, want ErrUnavailable", err)
	}
}
