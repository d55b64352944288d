package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
	w, _ := Standard("burst", StdConfig{Tasks: 20})
	errBad := errors.New("bad policy")
	var made atomic.Int32
	bad := PolicySpec{Name: "bad", New: func(Cluster) (stealer.Policy, error) {
		made.Add(1)
		return nil, errBad
	}}
	ws := []*Workload{w, w, w, w, w, w}
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
