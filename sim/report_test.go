package sim

import (
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDominates(t *testing.T) {
	m := func(span, waste float64) Metrics { return Metrics{Makespan: span, Waste: waste} }
	for _, tc := range []struct {
		a, b Metrics
		want bool
	}{
		{m(10, 5), m(11, 5), true},
		{m(10, 5), m(10, 6), true},
		{m(10, 5), m(10, 5), false},
		{m(10, 5), m(9, 6), false},
		{m(10, 5), m(10, 5+1e-12), false}, // within rounding: equal
		// Within DominanceTolerance (1 %): equal.
		{m(10, 5), m(10.09, 5), false},
		{m(10, 5), m(10.2, 5), true},
		{m(10, 5), m(9.95, 5.04), false},
		// 0.5 % slower counts as as fast: wasting less dominates.
		{m(10, 5), m(9.95, 6), true},
		{m(9.95, 6), m(10, 5), false},
		{m(10, 0), m(10, 0.5), true},
		{m(10, 5), Metrics{Makespan: 1, Stalled: "x"}, true},
		{Metrics{Makespan: 1, Stalled: "x"}, m(10, 5), false},
	} {
		if got := Dominates(tc.a, tc.b); got != tc.want {
			t.Errorf("Dominates(%+v, %+v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func testReport() *Report {
	r := &Report{Workloads: []WorkloadInfo{{Name: "w", LB: 10}}}
	for _, x := range []struct {
		p           string
		span, waste float64
	}{{"a", 10, 5}, {"b", 12, 1}, {"c", 12, 6}, {"d", 20, 0}} {
		p := 100 * x.waste / 10
		r.Results = append(r.Results, &Result{Workload: "w", Policy: x.p,
			Metrics:  Metrics{Makespan: x.span, MakespanRatio: x.span / 10, Waste: x.waste, WastePct: &p},
			Timeline: []Sample{{At: 0, Held: 8, Busy: 4, Waiting: 10}, {At: 5e9, Held: 16, Booting: 8, Busy: 16}, {At: 1e10, Held: 8}}})
	}
	return r
}

func TestFrontAndCompare(t *testing.T) {
	r := testReport()
	if got := r.Front("w"); !slices.Equal(got, []string{"a", "b", "d"}) {
		t.Errorf("front %v, want a b d", got)
	}
	c := r.Compare("a")
	if len(c) != 1 || !slices.Equal(c[0].Dominates, []string{"c"}) || len(c[0].DominatedBy) != 0 {
		t.Errorf("compare a: %+v", c)
	}
	c = r.Compare("c")
	if !slices.Equal(c[0].DominatedBy, []string{"a", "b"}) {
		t.Errorf("compare c: %+v", c)
	}
}

func TestTable(t *testing.T) {
	var b strings.Builder
	r := testReport()
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteComparison(&b, "a"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "workload  policy  makespan") {
		t.Errorf("header %q", lines[0])
	}
	// Columns line up: numbers end where their header does.
	end := strings.Index(lines[0], "makespan") + len("makespan")
	for _, l := range lines[1:5] {
		if len(l) < end || l[end-1] == ' ' || l[end] != ' ' {
			t.Errorf("row %q: makespan does not end at column %d", l, end)
		}
		if l != strings.TrimRight(l, " ") {
			t.Errorf("row %q ends in spaces", l)
		}
	}
	for _, want := range []string{"w         a", "1.000", "50.0", "a against the others", "c", "within 1 % of each other count as equal"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// Waste % of a run whose auxiliary allocs were never busy is n/a in the
// table and null in JSON; table.txt holds the comparison that WriteText
// prints.
func TestWasteNAAndText(t *testing.T) {
	r := testReport()
	r.Results[3].Metrics.WastePct = nil // d: nothing ran on its workers
	r.Against = "a"
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	var row string
	for _, l := range strings.Split(text, "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[0] == "w" && f[1] == "d" {
			row = l
		}
	}
	if f := strings.Fields(row); len(f) < 6 || f[5] != "n/a" {
		t.Errorf("row of d %q: waste%% is not n/a", row)
	}
	if !strings.Contains(text, "a against the others") {
		t.Errorf("WriteText lacks the comparison:\n%s", text)
	}
	var js strings.Builder
	r.WriteJSON(&js)
	if !strings.Contains(js.String(), `"waste_pct": null`) || strings.Contains(js.String(), "Inf") {
		t.Errorf("JSON waste_pct of d is not null")
	}
	dir := t.TempDir()
	if _, err := r.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "table.txt"))
	if string(got) != text {
		t.Errorf("table.txt differs from WriteText:\n%s\nwant\n%s", got, text)
	}
}

// wellFormed checks that s parses as XML with an svg root.
func wellFormed(t *testing.T, s string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	root := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Errorf("root element %q", root)
	}
}

func TestSVG(t *testing.T) {
	r := testReport()
	r.Results[0].Policy = "a<&>" // escaped
	for _, f := range []func(io.Writer, string, []*Result) error{WriteCapacitySVG, WriteParetoSVG} {
		var b strings.Builder
		if err := f(&b, "w & co", r.Results); err != nil {
			t.Fatal(err)
		}
		wellFormed(t, b.String())
		if !strings.Contains(b.String(), "a&lt;&amp;&gt;") {
			t.Error("policy name not escaped")
		}
	}
	// A wide range of ratios goes logarithmic.
	r.Results[3].Metrics.MakespanRatio = 30
	var b strings.Builder
	WriteParetoSVG(&b, "w", r.Results)
	wellFormed(t, b.String())
	if !strings.Contains(b.String(), "log scale") {
		t.Error("no log scale for ratios up to 30")
	}
}

func TestWriteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	r := testReport()
	r.Workloads[0].Name = "a/b c"
	for _, x := range r.Results {
		x.Workload = "a/b c"
	}
	paths, err := r.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	if want := []string{"report.json", "table.txt", "a-b-c-capacity.svg", "a-b-c-pareto.svg"}; !slices.Equal(names, want) {
		t.Errorf("files %v, want %v", names, want)
	}
}
