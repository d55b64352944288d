package sim

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

// at returns a snapshot at t seconds with n waiting 1-cpu tasks.
func at(t float64, n int) stealer.Snapshot {
	s := stealer.Snapshot{Now: epoch.Add(time.Duration(t * float64(time.Second)))}
	if n > 0 {
		s.Demand = []ebb.Demand{{Resources: cpu(1), Count: n}}
	}
	return s
}

// pending returns n requests in flight for whole 8-cpu workers.
func pending(n int) []stealer.Pending {
	out := make([]stealer.Pending, n)
	for i := range out {
		out[i] = stealer.Pending{ID: stealer.RequestID("r" + string(rune('a'+i))), Requirements: ebb.Requirements{Min: cpu(8)}, Since: epoch}
	}
	return out
}

// idle returns a held 8-cpu alloc idle since t seconds.
func idle(id string, since float64) stealer.Held {
	t := epoch.Add(time.Duration(since * float64(time.Second)))
	return stealer.Held{ID: id, Resources: cpu(8), Free: cpu(8), Working: true, IdleSince: t, Since: t}
}

var eightCPU = Cluster{Primary: cpu(8), Shapes: []ebb.Resources{cpu(8)}, MaxWorkers: 32}

func TestSparkRamp(t *testing.T) {
	p := NewSpark(SparkConfig{}, eightCPU)
	// 100 tasks of 1 cpu need 13 executors of 8. Nothing the first
	// second, then 1, 2, 4, and the 6 still needed; then nothing more.
	var got []int
	for i := range 6 {
		s := at(float64(i), 100)
		s.Pending = pending(sum(got))
		got = append(got, len(p.Plan(s).Acquire))
	}
	if want := []int{0, 1, 2, 4, 6, 0}; !equalInts(got, want) {
		t.Errorf("acquisitions per second %v, want %v", got, want)
	}
	// The backlog gone: the requests in flight are cancelled, and an
	// executor idle for a minute is removed.
	s := at(10, 0)
	s.Pending = pending(2)
	s.Held = []stealer.Held{idle("x", 0), idle("y", 9.5)}
	plan := p.Plan(s)
	if len(plan.Cancel) != 2 || len(plan.Drain) != 0 {
		t.Errorf("no backlog: %d cancels, %d drains; want 2, 0", len(plan.Cancel), len(plan.Drain))
	}
	s = at(60, 0)
	s.Held = []stealer.Held{idle("x", 0), idle("y", 9.5)}
	if plan := p.Plan(s); len(plan.Drain) != 1 || plan.Drain[0].AllocID != "x" {
		t.Errorf("at 60 s: drains %+v, want x", plan.Drain)
	}
	// A new backlog waits a second again, and ramps from 1.
	if n := len(p.Plan(at(70, 50)).Acquire); n != 0 {
		t.Errorf("new backlog at once: %d", n)
	}
	if n := len(p.Plan(at(71, 50)).Acquire); n != 1 {
		t.Errorf("new backlog after 1 s: %d, want 1", n)
	}
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDask(t *testing.T) {
	p := NewDask(DaskConfig{}, eightCPU)
	// 100 tasks of a minute: 6000 cpu-s / 5 s, at most one cpu per task:
	// 100 cpu, less the primary's 8: 12 workers.
	s := at(0, 100)
	s.TaskDuration = time.Minute
	if n := len(p.Plan(s).Acquire); n != 12 {
		t.Errorf("acquire %d, want 12", n)
	}
	// Before any task finished, a task counts 0.5 s: 100 tasks make
	// 10 cpu, less 8: one worker.
	if n := len(NewDask(DaskConfig{}, eightCPU).Plan(at(0, 100)).Acquire); n != 1 {
		t.Errorf("no durations yet: acquire %d, want 1", n)
	}
	// The work gone: it takes three recommendations a second apart to
	// scale down; calls at 5, 5.5, 6 and 6.5 s count two.
	for i := range 4 {
		s := at(5+float64(i)*0.5, 0)
		s.Pending = pending(2)
		s.Held = []stealer.Held{idle("x", 0), idle("y", 1)}
		if plan := p.Plan(s); len(plan.Cancel)+len(plan.Drain) > 0 {
			t.Errorf("call at %v: scaled down after %d calls", s.Now.Sub(epoch), i+1)
		}
	}
	// Then the newest requests are cancelled and the idle workers
	// drained, longest idle first.
	var plan stealer.Plan
	for i := range 6 {
		s := at(float64(20+i), 0)
		s.Pending = pending(2)
		s.Held = []stealer.Held{idle("x", 5), idle("y", 1)}
		if plan = p.Plan(s); len(plan.Cancel)+len(plan.Drain) > 0 {
			break
		}
	}
	if len(plan.Cancel) != 2 || plan.Cancel[0].ID != "rb" || len(plan.Drain) != 2 || plan.Drain[0].AllocID != "y" {
		t.Errorf("scale-down plan %+v: want both requests cancelled (newest first), both idle workers drained (longest idle first)", plan)
	}
}

func TestRay(t *testing.T) {
	p := NewRay(RayConfig{}, eightCPU)
	// 20 tasks of 1 cpu pack onto 3 nodes of 8.
	if n := len(p.Plan(at(0, 20)).Acquire); n != 3 {
		t.Errorf("20 tasks: %d nodes, want 3", n)
	}
	// 100 need 13, but at most 5 launch at once with no nodes up.
	if n := len(p.Plan(at(0, 100)).Acquire); n != 5 {
		t.Errorf("100 tasks: %d nodes, want 5", n)
	}
	// With 10 nodes up, 10 at once; the 2 launching take 16 tasks.
	s := at(0, 100)
	for i := range 10 {
		h := idle("n"+string(rune('a'+i)), 0)
		h.Running, h.IdleSince, h.Free = 8, time.Time{}, nil
		s.Held = append(s.Held, h)
	}
	s.Pending = pending(2)
	if n := len(p.Plan(s).Acquire); n != 8 {
		t.Errorf("10 up, 2 launching: %d, want 8", n)
	}
	// Idle for 5 minutes: drained.
	s = at(300, 0)
	s.Held = []stealer.Held{idle("x", 0), idle("y", 1)}
	if plan := p.Plan(s); len(plan.Drain) != 1 || plan.Drain[0].AllocID != "x" {
		t.Errorf("drains %+v, want x", plan.Drain)
	}
	// A task no node type holds gets no node.
	s = at(0, 0)
	s.Demand = []ebb.Demand{{Resources: cpu(16), Count: 1}}
	if n := len(p.Plan(s).Acquire); n != 0 {
		t.Errorf("16-cpu task: %d nodes", n)
	}
}

func TestPartek(t *testing.T) {
	p := NewPartek(PartekConfig{}, eightCPU)
	var got []int
	for i := 0; i <= 90; i += 10 {
		got = append(got, len(p.Plan(at(float64(i), 100)).Acquire))
	}
	// One worker per 30 s check.
	if want := []int{1, 0, 0, 1, 0, 0, 1, 0, 0, 1}; !equalInts(got, want) {
		t.Errorf("acquisitions %v, want %v", got, want)
	}
	if n := len(p.Plan(at(120, 0)).Acquire); n != 0 {
		t.Errorf("no work: %d", n)
	}
}

func TestReflow(t *testing.T) {
	p := NewReflow(ReflowConfig{})
	s := at(0, 0)
	s.Demand = []ebb.Demand{{Resources: ebb.Resources{ebb.CPU: 2, ebb.Mem: 1}, Count: 3}, {Resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 4}, Count: 2}}
	plan := p.Plan(s)
	if len(plan.Acquire) != 1 {
		t.Fatalf("acquire %d, want 1", len(plan.Acquire))
	}
	if r := plan.Acquire[0].Requirements; !r.Min.Equal(ebb.Resources{ebb.CPU: 2, ebb.Mem: 4}) || r.Width != 5 {
		t.Errorf("request %v, want max(Min) × 5", r)
	}
	s.Pending = pending(1)
	if n := len(p.Plan(s).Acquire); n != 0 {
		t.Errorf("one in flight: acquire %d more", n)
	}
	s = at(299, 0)
	s.Held = []stealer.Held{idle("x", 0)}
	if n := len(p.Plan(s).Drain); n != 0 {
		t.Errorf("idle 299 s: drained")
	}
	s.Now = s.Now.Add(time.Second)
	if n := len(p.Plan(s).Drain); n != 1 {
		t.Errorf("idle 300 s: not drained")
	}
}

func TestStatic(t *testing.T) {
	p := NewStatic(StaticConfig{Workers: 4}, eightCPU)
	s := at(0, 0)
	s.Held = []stealer.Held{idle("x", 0)}
	s.Pending = pending(1)
	plan := p.Plan(s)
	if len(plan.Acquire) != 2 || !plan.Acquire[0].Requirements.Min.Equal(cpu(8)) {
		t.Errorf("plan %+v: want 2 more workers of 8 cpu", plan)
	}
	s = at(1e6, 0)
	s.Held = []stealer.Held{idle("x", 0)}
	if plan := p.Plan(s); len(plan.Drain) != 0 {
		t.Error("static drained")
	}
	if n := len(NewStatic(StaticConfig{}, eightCPU).Plan(at(0, 100)).Acquire); n != 0 {
		t.Errorf("primary only: acquire %d", n)
	}
}

func TestParsePolicy(t *testing.T) {
	for _, n := range PolicyNames() {
		ps, err := ParsePolicy(n)
		if err != nil || ps.Name != n {
			t.Fatalf("ParsePolicy(%q) = %v, %v", n, ps.Name, err)
		}
		p, err := ps.New(Cluster{})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := p.(IdleTimer); !ok {
			t.Errorf("%s does not say its idle timeout", n)
		}
	}
	ps, err := ParsePolicy("default:MinIdleTimeout=45s:maxwidth=4:MaxRequest=shape")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := ps.New(eightCPU)
	cfg := p.(*stealer.Default).Config()
	if cfg.MinIdleTimeout != 45*time.Second || cfg.MaxWidth != 4 || !cfg.MaxRequest.Equal(cpu(8)) {
		t.Errorf("knobs not set: %+v", cfg)
	}
	ps, _ = ParsePolicy("spark:IdleTimeout=2m")
	p, _ = ps.New(eightCPU)
	if d, _ := p.(IdleTimer).IdleTimeout(stealer.Snapshot{}); d != 2*time.Minute {
		t.Errorf("spark idle timeout %v", d)
	}
	for _, bad := range []string{"nope", "default:NoSuchKnob=1", "default:MaxWidth=x", "default:MaxWidth=-1", "spark:IdleTimeout", "ray:UpscalingSpeed=NaN", "dask:Worker=cpu=x"} {
		_, err := ParsePolicy(bad)
		if !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("ParsePolicy(%q): err = %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := ParsePolicy("default:NoSuchKnob=1"); err == nil || !strings.Contains(err.Error(), "MinIdleTimeout") {
		t.Errorf("unknown knob error does not list the knobs: %v", err)
	}
}
