package enginebench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/stealer"
)

// A mark is what a task of the mixed flow wrote: when it started and
// ended, and whether it ran on the primary.
type mark struct {
	start, end time.Time
	primary    bool
}

// readMarks reads every step's mark from marks; a task whose work
// directory is under primaryDir ran on the primary.
func readMarks(steps []step, marks, primaryDir string) ([]mark, error) {
	out := make([]mark, len(steps))
	for i, s := range steps {
		b, err := os.ReadFile(filepath.Join(marks, s.name))
		if err != nil {
			return nil, fmt.Errorf("mark of task %s: %w", s.name, err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 3 {
			return nil, fmt.Errorf("mark of task %s: want start, directory, end; got %q", s.name, b)
		}
		start, err1 := parseTime(lines[0])
		end, err2 := parseTime(lines[2])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("mark of task %s: %q", s.name, b)
		}
		rel, err := filepath.Rel(primaryDir, strings.TrimSpace(lines[1]))
		out[i] = mark{start: start, end: end, primary: err == nil && !strings.HasPrefix(rel, "..")}
	}
	return out, nil
}

// realOutcome measures a real run from its tasks' marks, its stealer's
// events and its worker launches, as the simulator measures its own
// (sim.Metrics): the makespan from the first start to the last end; the
// auxiliary allocs' cpu from grant to release (an alloc still held at the
// end counts until end); each launch's from its start to its return, at
// the shape's cpu (a launch cancelled in flight included, a failed one
// not: the simulator bills boots so); the busy cpu of the tasks that did
// not run on the primary; the mean latency from request to grant. A request that waits at the cluster's cap for a
// worker costs nothing, here as in the simulator.
func realOutcome(steps []step, marks []mark, events []stealer.Event, launches []launch, end time.Time) Outcome {
	var o Outcome
	var first, last time.Time
	for i, m := range marks {
		if first.IsZero() || m.start.Before(first) {
			first = m.start
		}
		if m.end.After(last) {
			last = m.end
		}
		if !m.primary {
			o.Busy += steps[i].res[ebb.CPU] * m.end.Sub(m.start).Minutes()
		}
	}
	o.Makespan = last.Sub(first)

	for _, l := range launches {
		o.Boot += l.cpu * l.end.Sub(l.start).Minutes()
	}
	o.Allocated = o.Boot
	granted := map[string]time.Time{}
	requested := map[stealer.RequestID]time.Time{}
	var latency time.Duration
	for _, e := range events {
		switch e.Kind {
		case stealer.EventRequested:
			requested[e.RequestID] = e.Time
		case stealer.EventGranted:
			granted[e.AllocID] = e.Time
			o.Allocs++
			if at, ok := requested[e.RequestID]; ok {
				latency += e.Time.Sub(at)
			}
		case stealer.EventReleased:
			if at, ok := granted[e.AllocID]; ok {
				o.Allocated += e.Resources[ebb.CPU] * e.Time.Sub(at).Minutes()
				delete(granted, e.AllocID)
			}
		}
	}
	for _, e := range events {
		if at, ok := granted[e.AllocID]; ok && e.Kind == stealer.EventGranted {
			o.Allocated += e.Resources[ebb.CPU] * end.Sub(at).Minutes()
		}
	}
	if o.Allocs > 0 {
		o.Latency = latency / time.Duration(o.Allocs)
	}
	return o
}

// A launch is one Provider.Launch that started a worker, or was
// cancelled while it did.
type launch struct {
	start, end time.Time
	cpu        float64 // the shape's
}

// launchLog is a provider that records its launches.
type launchLog struct {
	cluster.Provider
	mu       sync.Mutex // guards launches
	launches []launch
}

func (p *launchLog) Launch(ctx context.Context, shape cluster.Shape, labels ebb.Labels) (cluster.Worker, error) {
	start := time.Now()
	w, err := p.Provider.Launch(ctx, shape, labels)
	if err == nil || ctx.Err() != nil {
		p.mu.Lock()
		p.launches = append(p.launches, launch{start: start, end: time.Now(), cpu: shape.Resources[ebb.CPU]})
		p.mu.Unlock()
	}
	return w, err
}

// done returns the launches recorded.
func (p *launchLog) done() []launch {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.launches)
}

// parseTime parses the output of `date +%s.%N`.
func parseTime(s string) (time.Time, error) {
	sec, frac, _ := strings.Cut(strings.TrimSpace(s), ".")
	secs, err1 := strconv.ParseInt(sec, 10, 64)
	ns, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, fmt.Errorf("not a time from date +%%s.%%N: %q", s)
	}
	return time.Unix(secs, ns), nil
}

func mkdir(dir string) error { return os.MkdirAll(dir, 0o755) }
