package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ebbflow/ebb/stealer"
)

// smallSuite runs every policy on small standard workloads, launches
// failing now and then, a stream of two runs of each.
func smallSuite(t *testing.T, seed uint64) *Report {
	t.Helper()
	var ws []*Workload
	for _, n := range StandardNames() {
		w, err := Standard(n, StdConfig{Tasks: 120, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, Replay(w, 2, 3*time.Minute))
	}
	var ps []PolicySpec
	for _, n := range append(PolicyNames(), "default:MaxRequest=shape:MinIdleTimeout=1m") {
		p, err := ParsePolicy(n)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	c := Cluster{FailProb: 0.1, MaxWorkers: 8, Quantum: time.Minute}
	rep, err := Suite{Workloads: ws, Policies: ps, Cluster: c, Seed: seed, Parallel: 3, Timeline: true}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func reportJSON(t *testing.T, r *Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDeterminism(t *testing.T) {
	a, b := reportJSON(t, smallSuite(t, 7)), reportJSON(t, smallSuite(t, 7))
	if !bytes.Equal(a, b) {
		t.Fatal("same seed, different reports")
	}
	if c := reportJSON(t, smallSuite(t, 8)); bytes.Equal(a, c) {
		t.Fatal("different seeds, same report")
	}
	// The JSON reads back.
	r, err := ReadReport(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(reportJSON(t, r), a) {
		t.Error("report does not survive a JSON round trip")
	}
}

func TestMetricInvariants(t *testing.T) {
	rep := smallSuite(t, 3)
	lbs := map[string]float64{}
	for _, w := range rep.Workloads {
		lbs[w.Name] = w.LB
	}
	for _, r := range rep.Results {
		m := r.Metrics
		name := r.Workload + " × " + r.Policy
		if m.Stalled != "" {
			t.Errorf("%s: %s", name, m.Stalled)
			continue
		}
		if m.BusyKills != 0 {
			t.Errorf("%s: %d busy kills", name, m.BusyKills)
		}
		if m.Makespan < lbs[r.Workload]-1e-9 {
			t.Errorf("%s: makespan %v below the lower bound %v", name, m.Makespan, lbs[r.Workload])
		}
		if sum := m.WasteBoot + m.WasteSlack + m.WasteIdleTail + m.WasteNeverUsed; !near(sum, m.Waste) {
			t.Errorf("%s: waste %v, parts add to %v", name, m.Waste, sum)
		}
		for what, v := range map[string]float64{"boot": m.WasteBoot, "slack": m.WasteSlack, "tail": m.WasteIdleTail, "never": m.WasteNeverUsed} {
			if v < 0 {
				t.Errorf("%s: %s waste %v < 0", name, what, v)
			}
		}
		if m.Allocated+1e-9 < m.BusyAux || m.BusyAux > m.Work+1e-9 {
			t.Errorf("%s: allocated %v, busy aux %v, work %v", name, m.Allocated, m.BusyAux, m.Work)
		}
		if m.ScaleEvents != m.Acquisitions+m.Releases || m.Acquisitions != m.Releases {
			t.Errorf("%s: acquisitions %d, releases %d, scale events %d", name, m.Acquisitions, m.Releases, m.ScaleEvents)
		}
		if m.Acquisitions+m.Failures+m.Cancels != m.Requests {
			t.Errorf("%s: %d requests ≠ %d grants + %d failures + %d cancels", name, m.Requests, m.Acquisitions, m.Failures, m.Cancels)
		}
		if m.PeakWorkers > rep.Cluster.MaxWorkers {
			t.Errorf("%s: %d workers at once, cap %d", name, m.PeakWorkers, rep.Cluster.MaxWorkers)
		}
		if !(m.WaitP50 <= m.WaitP95 && m.WaitP95 <= m.WaitP99) {
			t.Errorf("%s: waits %v %v %v out of order", name, m.WaitP50, m.WaitP95, m.WaitP99)
		}
		if m.Thrash < 0 || m.Thrash > 100 || m.Rebuys > m.Acquisitions {
			t.Errorf("%s: thrash %v, re-buys %d of %d", name, m.Thrash, m.Rebuys, m.Acquisitions)
		}
		if len(r.Timeline) == 0 {
			t.Errorf("%s: no timeline", name)
		}
		for _, s := range r.Timeline {
			if s.Busy > s.Held+1e-9 {
				t.Errorf("%s: at %v busy %v above held %v", name, s.At, s.Busy, s.Held)
				break
			}
		}
	}
}

func TestSuiteOrderIgnoresParallelism(t *testing.T) {
	w, _ := Standard("burst", StdConfig{Tasks: 50})
	var ps []PolicySpec
	for _, n := range []string{"reflow", "default", "static"} {
		p, _ := ParsePolicy(n)
		ps = append(ps, p)
	}
	var got [][]byte
	for _, par := range []int{1, 3} {
		var done int
		rep, err := Suite{Workloads: []*Workload{w}, Policies: ps, Parallel: par,
			OnResult: func(d, total int, r *Result) { done = d }}.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if done != 3 {
			t.Errorf("parallel %d: OnResult saw %d, want 3", par, done)
		}
		for i, want := range []string{"reflow", "default", "static"} {
			if rep.Results[i].Policy != want {
				t.Errorf("parallel %d: result %d is %s, want %s", par, i, rep.Results[i].Policy, want)
			}
		}
		got = append(got, reportJSON(t, rep))
	}
	if !bytes.Equal(got[0], got[1]) {
		t.Error("report depends on parallelism")
	}
}

func TestMetricsJSONNames(t *testing.T) {
	b, _ := json.Marshal(Metrics{})
	var m map[string]any
	json.Unmarshal(b, &m)
	for _, k := range []string{"makespan_s", "makespan_ratio", "waste_cpu_min", "waste_pct", "thrash_pct", "busy_kills", "wait_p99_s", "cost"} {
		if _, ok := m[k]; !ok {
			t.Errorf("metrics JSON lacks %q", k)
		}
	}
}

func TestSuiteStopsAtFirstError(t *testing.T) {
	errBad := errors.New("bad policy")
	var made atomic.Int32
	bad := PolicySpec{Name: "bad", New: func(Cluster) (stealer.Policy, error) {
		made.Add(1)
		return nil, errBad
	}}
	var ws []*Workload // six workloads, as a suite refuses one given twice
	for seed := range 6 {
		w, _ := Standard("burst", StdConfig{Tasks: 20, Seed: uint64(seed)})
		w.Name = fmt.Sprintf("burst-%d", seed)
		ws = append(ws, w)
	}
	for _, par := range []int{1, 2} {
		made.Store(0)
		rep, err := Suite{Workloads: ws, Policies: []PolicySpec{bad}, Parallel: par}.Run(context.Background())
		if !errors.Is(err, errBad) || rep != nil {
			t.Errorf("parallel %d: Run = %v, %v; want no report and the policy's error", par, rep, err)
		}
		// The runs that had started go on; no new one starts.
		if n := made.Load(); n > int32(2*par) {
			t.Errorf("parallel %d: %d of %d runs started after the first failed, want at most %d", par, n, len(ws), 2*par)
		}
	}
}

// recorder wraps a policy and notes, at the start of each run it sees
// (Now jumping ahead by the gap between runs), what the snapshot knew,
// and whether Now ever went back.
type recorder struct {
	p     stealer.Policy
	last  time.Time
	back  bool
	start []stealer.Snapshot
}

func (r *recorder) Plan(s stealer.Snapshot) stealer.Plan {
	if len(r.start) == 0 || s.Now.Sub(r.last) >= 10*time.Minute {
		r.start = append(r.start, s)
	}
	r.back = r.back || s.Now.Before(r.last)
	r.last = s.Now
	return r.p.Plan(s)
}

// With History, the runs before the measured one share the policy
// instance and what the stealer learned: the measured run starts knowing
// the task duration and the allocation latencies.
func TestSuiteHistory(t *testing.T) {
	w, err := Standard("burst", StdConfig{Tasks: 200, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var made []*recorder
	ps := PolicySpec{Name: "rec", New: func(c Cluster) (stealer.Policy, error) {
		p, err := stealer.NewDefault(stealer.DefaultConfig{})
		r := &recorder{p: p}
		made = append(made, r)
		return r, err
	}}
	c := Cluster{MaxWorkers: 8}
	rep, err := Suite{Workloads: []*Workload{w}, Policies: []PolicySpec{ps}, Cluster: c, Seed: 5, History: 2, Gap: 10 * time.Minute}.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(made) != 1 {
		t.Fatalf("%d policy instances made, want 1 for the history and the measured run", len(made))
	}
	r := made[0]
	if len(r.start) != 3 {
		t.Fatalf("%d runs seen, want 3", len(r.start))
	}
	// One clock for the history: what a policy remembers of a run (when
	// it scaled, when an alloc went idle) is in the next one's past.
	if r.back {
		t.Error("the policy's clock went back between runs")
	}
	if s := r.start[0]; s.TaskDuration != 0 || len(s.Latency) != 0 {
		t.Errorf("first run starts knowing duration %v, latencies %v", s.TaskDuration, s.Latency)
	}
	for k, s := range r.start[1:] {
		if s.TaskDuration == 0 || len(s.Latency) == 0 {
			t.Errorf("run %d starts knowing duration %v, %d latencies; want what run %d learned", k+2, s.TaskDuration, len(s.Latency), k+1)
		}
	}
	if rep.History != 2 || len(rep.Results) != 1 {
		t.Errorf("report: history %d, %d results", rep.History, len(rep.Results))
	}
	var b bytes.Buffer
	rep.WriteTable(&b)
	if !bytes.Contains(b.Bytes(), []byte("followed 2 earlier runs")) {
		t.Errorf("the table does not say the runs had a history:\n%s", b.String())
	}
	// The measured run meets the draws of a run without history: seed 5.
	// Its tasks all take as long (each of size 1: what the runs before
	// learn changes no order), and static learns nothing: with or
	// without history, one result.
	same := *w
	same.Tasks = slices.Clone(w.Tasks)
	for i := range same.Tasks {
		same.Tasks[i].Duration = time.Minute
	}
	alone, err := Suite{Workloads: []*Workload{&same}, Policies: []PolicySpec{mustPolicy(t, "static")}, Cluster: c, Seed: 5, History: 2}.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Suite{Workloads: []*Workload{&same}, Policies: []PolicySpec{mustPolicy(t, "static")}, Cluster: c, Seed: 5}.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if alone.Results[0].Metrics.Makespan != plain.Results[0].Metrics.Makespan {
		t.Errorf("static with history: makespan %v, without %v", alone.Results[0].Metrics.Makespan, plain.Results[0].Metrics.Makespan)
	}
}

// A history's runs may differ from the measured one task by task
// (Suite.HistoryJitter): each duration within e^(±3σ) of the measured
// one's, drawn alike for a seed, and the measured workload untouched.
func TestHistoryJitter(t *testing.T) {
	w, err := Standard("mixed", StdConfig{Tasks: 200, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	orig := slices.Clone(w.Tasks)
	if got := jittered(w, 0, 2); got != w {
		t.Errorf("jittered with sigma 0: a copy, want w itself")
	}
	a, b, c := jittered(w, 0.3, 2), jittered(w, 0.3, 2), jittered(w, 0.3, 3)
	changed := 0
	for i, t0 := range orig {
		r := float64(a.Tasks[i].Duration) / float64(t0.Duration)
		if r < math.Exp(-0.9)-1e-9 || r > math.Exp(0.9)+1e-9 {
			t.Fatalf("task %s: %v jittered to %v, beyond e^(±0.9)", t0.ID, t0.Duration, a.Tasks[i].Duration)
		}
		if a.Tasks[i].Duration != b.Tasks[i].Duration {
			t.Fatalf("task %s: %v and %v for one seed", t0.ID, a.Tasks[i].Duration, b.Tasks[i].Duration)
		}
		if a.Tasks[i].Duration != c.Tasks[i].Duration {
			changed++
		}
		if w.Tasks[i].Duration != t0.Duration {
			t.Fatalf("task %s of the measured workload changed: %v, was %v", t0.ID, w.Tasks[i].Duration, t0.Duration)
		}
	}
	if changed < len(orig)/2 {
		t.Errorf("seeds 2 and 3 drew alike for %d tasks of %d", len(orig)-changed, len(orig))
	}

	rep, err := Suite{Workloads: []*Workload{w}, Policies: []PolicySpec{mustPolicy(t, "static")}, Seed: 1, History: 1, HistoryJitter: 0.3}.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	rep.WriteTable(&buf)
	if rep.HistoryJitter != 0.3 || !bytes.Contains(buf.Bytes(), []byte("lognormal factor of sigma 0.3")) {
		t.Errorf("report: history jitter %v, table:\n%s", rep.HistoryJitter, buf.String())
	}
}
