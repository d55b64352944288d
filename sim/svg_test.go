package sim

import (
	"encoding/xml"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// svgTexts returns the text elements of an SVG: their position and
// content.
type svgText struct {
	x, y   float64
	anchor string
	weight string
	text   string
}

func svgTexts(t *testing.T, s string) []svgText {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	var out []svgText
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "text" {
			continue
		}
		var st svgText
		for _, a := range se.Attr {
			switch a.Name.Local {
			case "x":
				st.x, _ = strconv.ParseFloat(a.Value, 64)
			case "y":
				st.y, _ = strconv.ParseFloat(a.Value, 64)
			case "text-anchor":
				st.anchor = a.Value
			case "font-weight":
				st.weight = a.Value
			}
		}
		var body string
		d.DecodeElement(&body, &se)
		st.text = body
		out = append(out, st)
	}
}

func timeline(end time.Duration, held float64) []Sample {
	var s []Sample
	for at := time.Duration(0); at <= end; at += end / 10 {
		s = append(s, Sample{At: at, Held: held, Busy: held / 2})
	}
	return s
}

// The panels of a capacity figure share one time axis and one cpu axis:
// the short run's panel reaches as far as the long run's.
func TestCapacitySharedAxes(t *testing.T) {
	rs := []*Result{
		{Workload: "w", Policy: "default", Metrics: Metrics{Makespan: 10}, Timeline: timeline(10*time.Second, 8)},
		{Workload: "w", Policy: "static", Metrics: Metrics{Makespan: 1000}, Timeline: timeline(1000*time.Second, 64)},
	}
	var b strings.Builder
	if err := WriteCapacitySVG(&b, "w", rs); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, tx := range svgTexts(t, b.String()) {
		count[tx.text]++
	}
	// x ticks 0..1000 by 200 and y ticks 0..70 (niceCeil(64)) by 20:
	// "1000" and "60" label every panel.
	if count["1000"] != 2 || count["60"] != 2 {
		t.Errorf("tick 1000 on %d panels, tick 60 on %d; want 2 and 2 (shared axes)", count["1000"], count["60"])
	}
}

// The legend sits in its own row: nothing shares the title's line, and
// nothing overlaps it, however long the workload's name.
func TestLegendClearOfTitle(t *testing.T) {
	r := testReport()
	long := strings.Repeat("a-very-long-workload-name-", 4)
	for name, f := range map[string]func(io.Writer, string, []*Result) error{"capacity": WriteCapacitySVG, "pareto": WriteParetoSVG} {
		var b strings.Builder
		if err := f(&b, long, r.Results); err != nil {
			t.Fatal(err)
		}
		texts := svgTexts(t, b.String())
		title := texts[0]
		if !strings.HasPrefix(title.text, long) {
			t.Fatalf("%s: first text %q is not the title", name, title.text)
		}
		for _, tx := range texts[1:] {
			if math.Abs(tx.y-title.y) < 14 {
				t.Errorf("%s: %q at y %.0f is on the title's line (y %.0f)", name, tx.text, tx.y, title.y)
			}
		}
		// No legend swatch (rect or circle) in the title's band either.
		for _, m := range shapeY.FindAllStringSubmatch(b.String(), -1) {
			y, _ := strconv.ParseFloat(m[2], 64)
			if y > title.y-14 && y < title.y+4 {
				t.Errorf("%s: %s crosses the title", name, m[0])
			}
		}
	}
}

var shapeY = regexp.MustCompile(`<(rect x|circle)[^>]*? c?y="([0-9.]+)"`)

// No tick reads "-0", whatever dust the arithmetic leaves.
func TestNoNegativeZero(t *testing.T) {
	for _, x := range []float64{math.Copysign(0, -1), -1e-12, -1e-4} {
		if got := num(x); got != "0" {
			t.Errorf("num(%g) = %q, want 0", x, got)
		}
	}
	r := testReport()
	for _, x := range r.Results {
		x.Metrics.Waste = -1e-13 // dust
		x.Metrics.MakespanRatio = 1 + 1e-13
	}
	for _, f := range []func(io.Writer, string, []*Result) error{WriteCapacitySVG, WriteParetoSVG} {
		var b strings.Builder
		f(&b, "w", r.Results)
		for _, tx := range svgTexts(t, b.String()) {
			if strings.HasPrefix(tx.text, "-0") {
				t.Errorf("tick %q", tx.text)
			}
		}
	}
}

// Points that tie share one label naming them all; labels of nearby
// points do not overlap; the default policy's label is bold and its point
// ringed.
func TestParetoLabels(t *testing.T) {
	m := func(ratio, waste float64) Metrics {
		return Metrics{Makespan: 10 * ratio, MakespanRatio: ratio, Waste: waste}
	}
	rs := []*Result{
		{Workload: "w", Policy: "default", Metrics: m(1.5, 10)},
		{Workload: "w", Policy: "static", Metrics: m(2, 0)},
		{Workload: "w", Policy: "static-max", Metrics: m(2, 0)}, // ties static
		{Workload: "w", Policy: "spark", Metrics: m(1.51, 10.1)},
		{Workload: "w", Policy: "dask", Metrics: m(1.52, 10.2)},
	}
	var b strings.Builder
	if err := WriteParetoSVG(&b, "w", rs); err != nil {
		t.Fatal(err)
	}
	var labels []svgText
	for _, tx := range svgTexts(t, b.String()) {
		for _, p := range []string{"default", "static", "spark", "dask"} {
			if strings.HasPrefix(tx.text, p) && tx.y > topY {
				labels = append(labels, tx)
				break
			}
		}
	}
	var texts []string
	for _, l := range labels {
		texts = append(texts, l.text)
		if l.text == "default" && l.weight != "bold" {
			t.Error("the default policy's label is not bold")
		}
	}
	slices.Sort(texts)
	if strings.Join(texts, "|") != "dask|default|spark|static = static-max" {
		t.Errorf("labels %q, want default, static = static-max, spark, dask", texts)
	}
	for i, a := range labels {
		for _, o := range labels[i+1:] {
			aw, ow := 6.2*float64(len(a.text)), 6.2*float64(len(o.text))
			if a.x < o.x+ow && o.x < a.x+aw && math.Abs(a.y-o.y) < 12 {
				t.Errorf("labels %q (%.0f,%.0f) and %q (%.0f,%.0f) overlap", a.text, a.x, a.y, o.text, o.x, o.y)
			}
		}
	}
	if n := strings.Count(b.String(), `r="7" fill="none" stroke="black"`); n != 2 { // the legend's and the point's
		t.Errorf("%d rings, want 2 (legend and the default's point)", n)
	}
}

// Results that crowd into a few pixels (soykb's, where six policies end
// within 1 % of each other) get labels that do not overlap, and the plot
// is drawn at all: pushing labels apart once looped forever when a
// label's pushed place came out a rounding error short.
func TestParetoLabelsCrowded(t *testing.T) {
	var rs []*Result
	for _, x := range []struct {
		p    string
		r, w float64
	}{
		{"default", 1.0051903995467557, 1864.2754204129994}, {"static", 1.1909456369706084, 0}, {"static-max", 1, 67509.13404999583},
		{"spark", 1.0018984970065363, 2235.977035379833}, {"dask", 1.0017922470763905, 2063.6677949546165}, {"ray", 1.0032547953569253, 3039.912236328766},
		{"partek", 1.0060926062386597, 2828.9009964512998}, {"reflow", 1.0075041169326302, 2287.3809162727},
	} {
		rs = append(rs, &Result{Workload: "w", Policy: x.p, Metrics: Metrics{Makespan: 16000 * x.r, MakespanRatio: x.r, Waste: x.w}})
	}
	var b strings.Builder
	if err := WriteParetoSVG(&b, "w", rs); err != nil {
		t.Fatal(err)
	}
	var labels []svgText
	for _, tx := range svgTexts(t, b.String()) {
		if tx.y > topY && tx.y <= topY+420 && tx.x > marginL+2 {
			labels = append(labels, tx)
		}
	}
	if len(labels) < 6 {
		t.Fatalf("%d labels: %+v", len(labels), labels)
	}
	for i, a := range labels {
		for _, o := range labels[i+1:] {
			aw, ow := 6.2*float64(len(a.text)), 6.2*float64(len(o.text))
			if a.x < o.x+ow && o.x < a.x+aw && math.Abs(a.y-o.y) < 12 {
				t.Errorf("labels %q (%.0f,%.0f) and %q (%.0f,%.0f) overlap", a.text, a.x, a.y, o.text, o.x, o.y)
			}
		}
	}
}
