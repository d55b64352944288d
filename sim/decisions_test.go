package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb/stealer"
)

// TestLogTellsTheDecisions runs the default policy on a burst that needs
// more than the primary and reads its decision log: every request it
// made, with its reason, and each hold once, not at every tick.
func TestLogTellsTheDecisions(t *testing.T) {
	durs := make([]time.Duration, 16)
	for i := range durs {
		durs[i] = 5 * time.Minute
	}
	w := &Workload{Name: "burst16", Tasks: tasks(cpu(1), durs...)}
	r, recs := decisionLog(t, w)
	counts := map[string]int{}
	lastHold := ""
	for _, rec := range recs {
		if rec.Workload != "burst16" || rec.Policy != "default" || rec.Reason == "" {
			t.Errorf("log record %+v: want workload burst16, policy default and a reason", rec)
		}
		counts[rec.Msg]++
		if rec.Msg == "hold" {
			if rec.Reason == lastHold {
				t.Errorf("hold %q logged twice in a row: a hold is logged when it changes", rec.Reason)
			}
			lastHold = rec.Reason
		}
	}
	if counts["acquire"] != r.Metrics.Requests {
		t.Errorf("%d acquire lines, want one per request (%d)", counts["acquire"], r.Metrics.Requests)
	}
	if counts["drain"] != r.Metrics.Drains {
		t.Errorf("%d drain lines, want one per drain (%d)", counts["drain"], r.Metrics.Drains)
	}
	if counts["hold"] == 0 {
		t.Error("no hold logged: the policy holds while its requests are in flight")
	}

	// Without INFO enabled, nothing is logged.
	var buf bytes.Buffer
	quiet := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p, _ := stealer.NewDefault(stealer.DefaultConfig{})
	if _, err := Run(context.Background(), Config{Workload: w, Policy: p, Cluster: handCluster(2, 2, 30*time.Second), Seed: 1, Log: quiet}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("logged at WARN: %q", buf.String())
	}
}

// TestLogTellsTheKeeps runs the default policy on two waves joined by a
// gather of a kind not seen before: the allocs bought for the first
// wave idle through the gather, past their idle timeout, and the log
// says why each is kept when its keep begins or its reason changes, not
// at every tick.
func TestLogTellsTheKeeps(t *testing.T) {
	var ts []Task
	for i := range 16 {
		ts = append(ts, Task{ID: fmt.Sprintf("map%d", i), Kind: "map", Duration: time.Minute, Resources: cpu(1)})
	}
	gather := Task{ID: "gather", Kind: "gather", Duration: 90 * time.Second, Resources: cpu(1)}
	for i := range 16 {
		gather.Deps = append(gather.Deps, i)
	}
	ts = append(ts, gather)
	for i := range 16 {
		ts = append(ts, Task{ID: fmt.Sprintf("reduce%d", i), Kind: "reduce", Duration: time.Minute, Resources: cpu(1), Deps: []int{16}})
	}
	_, recs := decisionLog(t, &Workload{Name: "waves", Tasks: ts})
	type keep struct {
		why string
		at  time.Duration
	}
	keeps := 0
	last := map[string]keep{} // alloc → the keep last logged
	for _, rec := range recs {
		if rec.Msg != "keep" {
			continue
		}
		keeps++
		alloc, why, ok := strings.Cut(strings.TrimPrefix(rec.Reason, "kept alloc "), ": ")
		if !ok || why == "" {
			t.Errorf("keep %q: want the alloc and why", rec.Reason)
		}
		// The stealer's tick is a second: the same keep logged at
		// the next tick is one logged at every tick.
		if k, ok := last[alloc]; ok && k.why == why && rec.T-k.at <= time.Second {
			t.Errorf("keep of %s for %q logged at %v and again at %v: a keep is logged when it begins or its reason changes",
				alloc, why, k.at, rec.T)
		}
		last[alloc] = keep{why, rec.T}
	}
	if keeps == 0 {
		t.Errorf("no keep logged: the allocs idle through the gather are kept for the wave behind it; log:\n%+v", recs)
	}
}

// A logRecord is one line of a run's decision log.
type logRecord struct {
	Msg, Reason, Workload, Policy string
	T                             time.Duration
}

// decisionLog runs the default policy on w, on a primary of 2 cpu and up
// to 8 workers of 2 booting in 30 s, and returns the result and the
// run's log at INFO, read back.
func decisionLog(t *testing.T, w *Workload) (*Result, []logRecord) {
	t.Helper()
	c := handCluster(2, 2, 30*time.Second)
	c.MaxWorkers = 8
	p, err := stealer.NewDefault(stealer.DefaultConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	r, err := Run(context.Background(), Config{Workload: w, Policy: p, PolicyName: "default", Cluster: c, Seed: 1, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	var recs []logRecord
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		var rec logRecord
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		recs = append(recs, rec)
	}
	return r, recs
}
