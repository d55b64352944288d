package sim

import (
	"bytes"
	"context"
	"encoding/json"
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
	counts := map[string]int{}
	lastHold := ""
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		var rec struct {
			Msg, Reason, Workload, Policy string
			T                             time.Duration
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec.Workload != "burst16" || rec.Policy != "default" || rec.Reason == "" {
			t.Errorf("log line %q: want workload burst16, policy default and a reason", line)
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
	buf.Reset()
	quiet := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p2, _ := stealer.NewDefault(stealer.DefaultConfig{})
	if _, err := Run(context.Background(), Config{Workload: w, Policy: p2, Cluster: c, Seed: 1, Log: quiet}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("logged at WARN: %q", buf.String())
	}
}
