package stealer

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// The default policy says why it keeps each alloc that it would drain
// for its idle time (Plan.Keep): every alloc idle past the timeout is
// either drained or kept, with the rule that keeps it.
func TestDefaultSaysWhyItKeeps(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{IdleTimeout: time.Minute, MaxWiden: 1})
	const (
		latency = "kept alloc %s: work due within an allocation's latency would start on it"
		rebuy   = "kept alloc %s: drained, it would be bought back for work waiting or due within a latency and a re-buy window"
		packed  = "kept alloc %s: work due within a latency and a re-buy window would start on it, and held capacity runs the work left past the longest running chain's end"
		untimed = "kept alloc %s: work whose moment nobody can tell yet would buy it back when it comes: kept until idle twice an allocation's latency"
		unknown = "kept alloc %s: work whose moment nobody can tell yet, of durations unknown, would start on it: kept until idle twice an allocation's latency"
	)
	packedPast := gatherSnapshot(upcoming(5, 2*time.Minute, false))
	packedPast.Critical = Critical{End: 3 * time.Minute, Packed: 4 * time.Minute, Ranked: true}
	young := gatherSnapshot(upcoming(64, 66*time.Second, true))
	young.Held = []Held{working("a1", 8, 0, 10*time.Second), working("a2", 8, 0, 90*time.Second), working("a3", 8, 0, 2*time.Minute)}
	guessed := young
	guessed.Upcoming = []Upcoming{upcoming(64, 66*time.Second, true)}
	guessed.Upcoming[0].Duration = 0
	for _, tc := range []struct {
		name string
		snap Snapshot
		want []Keep // the rest of the allocs idle past the timeout drained
	}{
		{"nothing to come", gatherSnapshot(), nil},
		{"ten tasks due within the latency", gatherSnapshot(upcoming(10, 20*time.Second, false)),
			[]Keep{{"a1", fmt.Sprintf(latency, "a1")}}},
		{"64 due within the re-buy window", gatherSnapshot(upcoming(64, 2*time.Minute, false)),
			[]Keep{{"a1", fmt.Sprintf(rebuy, "a1")}, {"a2", fmt.Sprintf(rebuy, "a2")}}},
		{"five due, the work packed past the end", packedPast,
			[]Keep{{"a1", fmt.Sprintf(packed, "a1")}}},
		// a1 is idle less than the timeout: not a keep; a3 has been
		// idle twice the latency: drained.
		{"64 untimed, three allocs idle 10 s, 90 s and 2 min", young,
			[]Keep{{"a2", fmt.Sprintf(untimed, "a2")}}},
		{"the same, of durations unknown", guessed,
			[]Keep{{"a2", fmt.Sprintf(unknown, "a2")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := d.Plan(tc.snap)
			if !slices.Equal(p.Keep, tc.want) {
				t.Errorf("plan %s\nkeeps %q, want %q", formatPlan(p), p.Keep, tc.want)
			}
			for _, h := range tc.snap.Held {
				kept := slices.ContainsFunc(p.Keep, func(k Keep) bool { return k.AllocID == h.ID })
				if past := tc.snap.Now.Sub(h.IdleSince) >= time.Minute; past && kept == drained(p, h.ID) {
					t.Errorf("alloc %s idle past the timeout: kept %v, drained %v; want one of them", h.ID, kept, drained(p, h.ID))
				}
			}
		})
	}
}
