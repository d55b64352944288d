package enginebench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
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

// realOutcome measures a real run from its tasks' marks and its
// stealer's events, as the simulator measures its own (sim.Metrics): the
// makespan from the first start to the last end; the auxiliary allocs'
// cpu from request to release (an alloc still held at the end counts
// until end); a request cancelled before its grant from request to
// cancel, at what a worker of shapeCPU would have granted of it, as the
// simulator bills a launch cancelled in flight; the busy cpu of the tasks
// that did not run on the primary.
func realOutcome(steps []step, marks []mark, events []stealer.Event, shapeCPU float64, end time.Time) Outcome {
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

	type request struct {
		at       time.Time
		cpu      float64
		cancel   time.Time // when cancelled before its grant
		released bool      // granted after its cancel, and released
	}
	type held struct {
		from time.Time
		cpu  float64
	}
	reqs := map[stealer.RequestID]*request{}
	allocs := map[string]held{}
	for _, e := range events {
		cpu := e.Resources[ebb.CPU]
		switch e.Kind {
		case stealer.EventRequested:
			reqs[e.RequestID] = &request{at: e.Time, cpu: cpu}
		case stealer.EventCancelled:
			if r := reqs[e.RequestID]; r != nil {
				r.cancel = e.Time
			}
		case stealer.EventGranted:
			from := e.Time
			if r := reqs[e.RequestID]; r != nil {
				from = r.at
				delete(reqs, e.RequestID)
			}
			allocs[e.AllocID] = held{from: from, cpu: cpu}
			o.Boot += cpu * e.Time.Sub(from).Minutes()
			o.Allocs++
		case stealer.EventReleased:
			if h, ok := allocs[e.AllocID]; ok {
				o.Allocated += h.cpu * e.Time.Sub(h.from).Minutes()
				delete(allocs, e.AllocID)
			} else if r := reqs[e.RequestID]; r != nil {
				// Granted after it was cancelled: held until now.
				o.Allocated += cpu * e.Time.Sub(r.at).Minutes()
				o.Boot += cpu * e.Time.Sub(r.at).Minutes()
				r.released = true
			}
		}
	}
	for _, h := range allocs {
		o.Allocated += h.cpu * end.Sub(h.from).Minutes()
	}
	for _, r := range reqs {
		if !r.cancel.IsZero() && !r.released {
			d := min(r.cpu, shapeCPU) * r.cancel.Sub(r.at).Minutes()
			o.Allocated += d
			o.Boot += d
		}
	}
	return o
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
