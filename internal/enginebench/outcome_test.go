package enginebench

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/stealer"
)

func TestRealOutcome(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	cpu := func(n float64) ebb.Resources { return ebb.Resources{ebb.CPU: n} }
	steps := []step{{name: "a", res: cpu(1)}, {name: "b", res: cpu(1)}, {name: "c", res: cpu(2)}}
	marks := []mark{
		{start: at(0), end: at(11), primary: true},
		{start: at(2), end: at(8)},
		{start: at(3), end: at(5)},
	}
	events := []stealer.Event{
		{Time: at(0.5), Kind: stealer.EventRequested, RequestID: "r1", Resources: cpu(16)},
		{Time: at(1), Kind: stealer.EventGranted, RequestID: "r1", AllocID: "x", Resources: cpu(2)},
		{Time: at(1), Kind: stealer.EventRequested, RequestID: "r2", Resources: cpu(4)},
		{Time: at(1.5), Kind: stealer.EventRequested, RequestID: "r3", Resources: cpu(4)},
		{Time: at(2), Kind: stealer.EventGranted, RequestID: "r2", AllocID: "y", Resources: cpu(2)},
		{Time: at(6), Kind: stealer.EventCancelled, RequestID: "r3", Resources: cpu(4)}, // queued at the cap: free
		{Time: at(9), Kind: stealer.EventReleased, AllocID: "x", Resources: cpu(2)},
		{Time: at(9), Kind: stealer.EventReleased, AllocID: "z", Resources: cpu(8)}, // never granted: ignored
	}
	launches := []launch{{start: at(0.5), end: at(1), cpu: 2}, {start: at(1), end: at(2), cpu: 2}}
	got := realOutcome(steps, marks, events, launches, at(12))

	cpuMin := func(cpuSeconds float64) float64 { return cpuSeconds / 60 }
	want := Outcome{
		Makespan:  11 * time.Second,
		Boot:      cpuMin(2*0.5 + 2*1),
		Allocated: cpuMin(2*0.5+2*1) + cpuMin(2*8) + cpuMin(2*10), // y is held until the end
		Busy:      cpuMin(1*6 + 2*2),
		Allocs:    2,
		Latency:   750 * time.Millisecond, // r1 in 0.5 s, r2 in 1 s
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if got.Makespan != want.Makespan || got.Allocs != want.Allocs || got.Latency != want.Latency ||
		!near(got.Boot, want.Boot) || !near(got.Allocated, want.Allocated) || !near(got.Busy, want.Busy) {
		t.Errorf("realOutcome = %v, want %v", got, want)
	}
	if !near(got.Waste(), want.Allocated-want.Busy) {
		t.Errorf("Waste() = %v, want %v", got.Waste(), want.Allocated-want.Busy)
	}
}

func TestReadMarks(t *testing.T) {
	dir := t.TempDir()
	primary := filepath.Join(dir, "pool")
	steps := []step{{name: "on-primary"}, {name: "on-worker"}, {name: "beside"}}
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("on-primary", "1000.250000000\n"+filepath.Join(primary, "execs", "e1")+"\n1002.000000000\n")
	write("on-worker", "1001.000000000\n/tmp/worker3/execs/e2\n1003.500000000\n")
	// A sibling whose name starts like the primary's is not under it.
	write("beside", "1001.000000000\n"+primary+"2/execs/e3\n1003.000000000\n")
	got, err := readMarks(steps, dir, primary)
	if err != nil {
		t.Fatal(err)
	}
	want := []mark{
		{start: time.Unix(1000, 250000000), end: time.Unix(1002, 0), primary: true},
		{start: time.Unix(1001, 0), end: time.Unix(1003, 500000000)},
		{start: time.Unix(1001, 0), end: time.Unix(1003, 0)},
	}
	for i := range want {
		if !got[i].start.Equal(want[i].start) || !got[i].end.Equal(want[i].end) || got[i].primary != want[i].primary {
			t.Errorf("mark of %s = %+v, want %+v", steps[i].name, got[i], want[i])
		}
	}

	write("on-worker", "1001.000000000\n/tmp/worker3/execs/e2\n") // the task never ended
	if _, err := readMarks(steps, dir, primary); err == nil {
		t.Errorf("readMarks of a mark without an end: no error")
	}
}

// launcher is a provider whose Launch answers err after ctx is checked.
type launcher struct {
	cluster.Provider
	err error
}

func (l launcher) Launch(ctx context.Context, shape cluster.Shape, labels ebb.Labels) (cluster.Worker, error) {
	if err := ctx.Err(); err != nil {
		return cluster.Worker{}, err
	}
	return cluster.Worker{ID: "w"}, l.err
}

func TestLaunchLog(t *testing.T) {
	shape := cluster.Shape{Name: "s", Resources: ebb.Resources{ebb.CPU: 3}}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want int
	}{
		{"launched", context.Background(), nil, 1},
		{"cancelled in flight: billed", cancelled, nil, 1},
		{"failed: not billed", context.Background(), errors.New("no capacity"), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &launchLog{Provider: launcher{err: tc.err}}
			p.Launch(tc.ctx, shape, nil)
			got := p.done()
			if len(got) != tc.want {
				t.Fatalf("launches recorded = %d, want %d", len(got), tc.want)
			}
			if tc.want > 0 && (got[0].cpu != 3 || got[0].end.Before(got[0].start)) {
				t.Errorf("launch = %+v, want 3 cpu and an end not before its start", got[0])
			}
		})
	}
}
