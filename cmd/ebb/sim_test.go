package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSimCommand(t *testing.T) {
	dir := t.TempDir()
	trace := filepath.Join(dir, "mine.csv")
	os.WriteFile(trace, []byte("id,arrival,duration,resources,deps\na,0,30s,cpu=1,\nb,0,30s,cpu=1,a\n"), 0o644)
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	code := mainCode(context.Background(), []string{"sim",
		"-workloads", "burst:40,trickle:30", "-policies", "default,static,reflow:IdleTimeout=1m",
		"-trace", trace, "-traces", "none", "-out", out, "-seed", "3", "-max-workers", "4", "-boot", "uniform:10s,20s",
	}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr.String())
	}
	table := stdout.String()
	for _, want := range []string{"workload", "makespan", "waste%", "thrash%", "burst", "trickle", "mine",
		"reflow:IdleTimeout=1m", "default against the others"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	// A row per workload × policy, under the header.
	rows := 0
	for _, l := range strings.Split(table, "\n") {
		if f := strings.Fields(l); len(f) >= 17 && (f[0] == "burst" || f[0] == "trickle" || f[0] == "mine") {
			rows++
		}
	}
	if rows != 9 {
		t.Errorf("%d result rows, want 9:\n%s", rows, table)
	}
	if !strings.Contains(stderr.String(), "[9/9]") {
		t.Errorf("no progress on stderr:\n%s", stderr.String())
	}
	for _, f := range []string{"report.json", "table.txt", "burst-capacity.svg", "burst-pareto.svg", "mine-pareto.svg"} {
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Error(err)
			continue
		}
		if strings.HasSuffix(f, ".svg") && !strings.HasPrefix(string(b), "<svg") {
			t.Errorf("%s does not start with <svg", f)
		}
	}
	var rep struct {
		Results []struct {
			Workload, Policy string
			Metrics          map[string]any
		}
	}
	b, _ := os.ReadFile(filepath.Join(out, "report.json"))
	if err := json.Unmarshal(b, &rep); err != nil || len(rep.Results) != 9 {
		t.Fatalf("report.json: %v, %d results", err, len(rep.Results))
	}
	if rep.Results[0].Metrics["busy_kills"] != 0.0 {
		t.Errorf("busy kills %v", rep.Results[0].Metrics["busy_kills"])
	}
	// The same command gives the same report.
	out2 := filepath.Join(dir, "out2")
	mainCode(context.Background(), []string{"sim",
		"-workloads", "burst:40,trickle:30", "-policies", "default,static,reflow:IdleTimeout=1m",
		"-trace", trace, "-traces", "none", "-out", out2, "-seed", "3", "-max-workers", "4", "-boot", "uniform:10s,20s", "-q",
	}, &bytes.Buffer{}, &bytes.Buffer{})
	b2, _ := os.ReadFile(filepath.Join(out2, "report.json"))
	if !bytes.Equal(b, b2) {
		t.Error("same flags, different report.json")
	}
}

func TestSimCommandUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-policies", "nope"},
		{"-workloads", "nope"},
		{"-workloads", "burst:x"},
		{"-boot", "soon"},
		{"-shape", "cpu=lots"},
		{"-primary", "cpu=-1"},
		{"-fail", "1"},
		{"-replay", "0"},
		{"-history", "-1"},
		{"-history", "1", "-history-jitter", "-0.1"},
		{"-history", "1", "-history-jitter", "NaN"},
		{"-history-jitter", "0.3"},
		{"-trace-cores", "avg"},
		{"-bogus"},
		{"extra"},
	} {
		var stderr bytes.Buffer
		code := mainCode(context.Background(), append([]string{"sim", "-traces", "none", "-q"}, args...), &bytes.Buffer{}, &stderr)
		if code != 2 {
			t.Errorf("ebb sim %v: exit %d, want 2\n%s", args, code, stderr.String())
		}
	}
	// A trace that does not parse: an error naming it, exit 1.
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("id,duration,resources\na,soon,cpu=1\n"), 0o644)
	var stderr bytes.Buffer
	if code := mainCode(context.Background(), []string{"sim", "-traces", "none", "-workloads", "none", "-trace", bad}, &bytes.Buffer{}, &stderr); code != 1 || !strings.Contains(stderr.String(), "bad.csv") {
		t.Errorf("bad trace: exit %d, stderr %q", code, stderr.String())
	}
}

// With -seeds, each seed's report goes into its own directory and the
// summary of the -compare policy over the seeds is printed and written;
// the standard workloads are drawn anew for each seed.
func TestSimCommandSeeds(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	code := mainCode(context.Background(), []string{"sim", "-q",
		"-workloads", "burst:40", "-policies", "default,static,spark", "-traces", "none",
		"-seed", "4", "-seeds", "2", "-max-workers", "4", "-out", out,
	}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr.String())
	}
	text := stdout.String()
	for _, want := range []string{"default's makespan over the best of spark, dask, ray, partek, reflow, seeds 4, 5", "burst", "dominated in"} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "waste%") {
		t.Errorf("with -seeds, the seeds' tables are printed; want only the summary:\n%s", text)
	}
	var (
		seeds []uint64
		works []float64
	)
	for _, d := range []string{"seed-4", "seed-5"} {
		b, err := os.ReadFile(filepath.Join(out, d, "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		var rep struct {
			Seed      uint64
			Workloads []struct {
				Work float64 `json:"work_cpu_min"`
			}
		}
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Workloads) != 1 {
			t.Fatalf("%s: %d workloads, want 1", d, len(rep.Workloads))
		}
		seeds = append(seeds, rep.Seed)
		works = append(works, rep.Workloads[0].Work)
	}
	if seeds[0] != 4 || seeds[1] != 5 || works[0] == works[1] {
		t.Errorf("the reports' seeds %v and burst's work %v: want seeds 4 and 5, each with a burst of its own", seeds, works)
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.txt"))
	if err != nil || string(b) != text {
		t.Errorf("summary.txt (%v) is not what was printed:\n%s", err, b)
	}
	var sum struct {
		Seeds     []uint64
		Workloads []struct{ Ratios []float64 }
	}
	if b, err = os.ReadFile(filepath.Join(out, "summary.json")); err != nil || json.Unmarshal(b, &sum) != nil {
		t.Fatalf("summary.json: %v", err)
	}
	if len(sum.Seeds) != 2 || len(sum.Workloads) != 1 || len(sum.Workloads[0].Ratios) != 2 {
		t.Errorf("summary.json: %+v", sum)
	}

	for _, args := range [][]string{
		{"-seeds", "0"},
		{"-seeds", "2", "-compare", ""},
		{"-seeds", "2", "-policies", "default,static"}, // nothing elastic to set it against
	} {
		var stderr bytes.Buffer
		code := mainCode(context.Background(), append([]string{"sim", "-traces", "none", "-q", "-workloads", "burst:10"}, args...), &bytes.Buffer{}, &stderr)
		if code != 2 {
			t.Errorf("ebb sim %v: exit %d, want 2\n%s", args, code, stderr.String())
		}
	}
}

func TestSimCommandRealTraces(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := mainCode(context.Background(), []string{"sim", "-workloads", "none", "-policies", "default", "-q"}, &stdout, &stderr)
	if strings.Contains(stderr.String(), "real traces skipped") {
		t.Skip("skipped: the real traces (../shared/traces beside the checkout) are not here")
	}
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"montage", "rnaseq-dirt02", "cores→1"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("table lacks %q", want)
		}
	}
}

// What ebb sim prints is what table.txt holds; one trace given twice is
// refused; one bad file in -traces DIR is named; -history and
// -trace-cores run.
func TestSimCommandTruth(t *testing.T) {
	dir := t.TempDir()
	wf, err := os.ReadFile("../../sim/testdata/forkjoin-wf.json")
	if err != nil {
		t.Fatal(err)
	}
	traces := filepath.Join(dir, "traces")
	os.Mkdir(traces, 0o755)
	os.WriteFile(filepath.Join(traces, "a.json"), wf, 0o644)
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	code := mainCode(context.Background(), []string{"sim", "-q", "-workloads", "mixed:60", "-policies", "default,static",
		"-traces", traces, "-trace-cores", "avgcpu", "-history", "1", "-out", out, "-max-workers", "4"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	table, _ := os.ReadFile(filepath.Join(out, "table.txt"))
	if string(table) != stdout.String() {
		t.Errorf("table.txt differs from stdout:\n%s\nstdout:\n%s", table, stdout.String())
	}
	for _, want := range []string{"default against the others", "count as equal", "followed 1 earlier runs", "mixed", "a  "} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	// The same trace twice: by -trace and in -traces, or under two names.
	for _, args := range [][]string{
		{"-traces", traces, "-trace", filepath.Join(traces, "a.json")},
		{"-traces", "none", "-trace", filepath.Join(traces, "a.json"), "-trace", filepath.Join(traces, "a.json")},
	} {
		stderr.Reset()
		code := mainCode(context.Background(), append([]string{"sim", "-q", "-workloads", "none"}, args...), &bytes.Buffer{}, &stderr)
		if code != 1 || !strings.Contains(stderr.String(), "given twice") || !strings.Contains(stderr.String(), "a.json") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr.String())
		}
	}
	os.WriteFile(filepath.Join(traces, "b.json"), wf, 0o644)
	stderr.Reset()
	code = mainCode(context.Background(), []string{"sim", "-q", "-workloads", "none", "-traces", traces}, &bytes.Buffer{}, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "same trace given twice") {
		t.Errorf("two copies: exit %d, stderr %q", code, stderr.String())
	}
	os.Remove(filepath.Join(traces, "b.json"))
	// A bad file among good ones is named.
	os.WriteFile(filepath.Join(traces, "broken.json"), []byte(`{"workflow": {"specification": {"tasks": [}}}`), 0o644)
	stderr.Reset()
	code = mainCode(context.Background(), []string{"sim", "-q", "-workloads", "none", "-traces", traces}, &bytes.Buffer{}, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "broken.json") || strings.Contains(stderr.String(), "a.json") {
		t.Errorf("bad file: exit %d, stderr %q", code, stderr.String())
	}
}
