package sim

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/ebbflow/ebb"
)

// summaryReport is one seed's report: for each workload, the makespan and
// waste of each policy.
func summaryReport(seed uint64, results map[string]map[string][2]float64, order ...string) *Report {
	r := &Report{Seed: seed}
	for _, w := range order {
		r.Workloads = append(r.Workloads, WorkloadInfo{Name: w})
		for _, p := range []string{"default", "static", "spark", "ray"} {
			if m, ok := results[w][p]; ok {
				r.Results = append(r.Results, &Result{Workload: w, Policy: p, Metrics: Metrics{Makespan: m[0], Waste: m[1], Thrash: m[1] / 100}})
			}
		}
	}
	return r
}

func TestSummarize(t *testing.T) {
	seed1 := summaryReport(1, map[string]map[string][2]float64{
		// The default 10 % slower than ray, the best elastic one.
		"a": {"default": {110, 5}, "static": {200, 0}, "spark": {120, 9}, "ray": {100, 9}},
		// As fast as static, wasting more: dominated by static.
		"b": {"default": {50, 3}, "static": {50, 0}, "spark": {60, 4}, "ray": {55, 4}},
		"c": {"default": {10, 50}, "spark": {10, 1}}, // its thrash is not counted
	}, "a", "b", "c")
	seed2 := summaryReport(2, map[string]map[string][2]float64{
		"a": {"default": {90, 5}, "static": {200, 0}, "spark": {100, 9}, "ray": {100, 9}},
		"b": {"default": {50, 3}, "static": {50, 0}, "spark": {60, 4}, "ray": {55, 4}},
	}, "a", "b")
	s, err := Summarize([]*Report{seed1, seed2}, "default", ElasticBaselines())
	if err != nil {
		t.Fatal(err)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	// c is not in seed 2: left out.
	if len(s.Workloads) != 2 || s.Workloads[0].Workload != "a" || s.Workloads[1].Workload != "b" {
		t.Fatalf("rows %+v, want a and b", s.Workloads)
	}
	a, b := s.Workloads[0], s.Workloads[1]
	if len(a.Ratios) != 2 || !near(a.Ratios[0], 1.1) || !near(a.Ratios[1], 0.9) || !near(a.Geomean, math.Sqrt(1.1*0.9)) || !near(a.Worst, 1.1) || a.DominatedIn != 0 {
		t.Errorf("a: %+v, want ratios 1.1 and 0.9, not dominated", a)
	}
	if !near(b.Geomean, 50.0/55) || b.DominatedIn != 2 || b.DominatedBy["static"] != 2 || len(b.DominatedBy) != 1 {
		t.Errorf("b: %+v, want 50/55 and dominated by static in both seeds", b)
	}
	if s.Runs != 4 || s.Dominated != 2 || !near(s.Worst, 1.1) || !near(s.Geomean, math.Pow(1.1*0.9*(50.0/55)*(50.0/55), 0.25)) || !near(s.Thrash, 0.05) {
		t.Errorf("totals: %+v", s)
	}
	// Every policy's runs dominated, over a and b: spark by the default
	// in a (both seeds) and by static and the default in b; ray by the
	// default in a (seed 2) and in b; the default by static in b.
	wantRuns := []PolicyRuns{{"default", 4, 2}, {"static", 4, 0}, {"spark", 4, 4}, {"ray", 4, 3}}
	if !slices.Equal(s.Policies, wantRuns) {
		t.Errorf("policies %+v, want %+v", s.Policies, wantRuns)
	}
	var text strings.Builder
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"over the best of spark, dask, ray, partek, reflow, seeds 1, 2", "1.100 0.900", "static (2)", "dominated in 2 of 4 runs",
		"every policy, runs dominated: default 2 of 4, static 0 of 4, spark 4 of 4, ray 3 of 4"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}

	for _, c := range []struct {
		name    string
		reports []*Report
		policy  string
	}{
		{"no reports", nil, "default"},
		{"no such policy", []*Report{seed1}, "dask"},
		{"no baseline", []*Report{summaryReport(1, map[string]map[string][2]float64{"a": {"default": {1, 1}, "static": {1, 0}}}, "a")}, "default"},
	} {
		if _, err := Summarize(c.reports, c.policy, ElasticBaselines()); !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", c.name, err)
		}
	}
}
