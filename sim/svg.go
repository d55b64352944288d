package sim

import (
	"cmp"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Plots, written as SVG text by hand.

const (
	plotW   = 760.0 // plot area
	panelH  = 130.0
	marginL = 60.0
	marginR = 20.0
	marginT = 28.0
	gapH    = 46.0
)

var seriesColor = map[string]string{
	"held": "#1f77b4", "booting": "#9ecae1", "busy": "#2ca02c", "demand": "#d62728",
}

// WriteCapacitySVG draws, for each result of one workload, the cpu held
// (primary and granted auxiliary allocs), the cpu booting, the cpu busy,
// and the demand (busy plus waiting) over time, one panel per policy.
// Each panel has its own axes, up to its makespan and its largest
// figure, so that one policy's scale does not flatten the others': read
// the ticks. Results need timelines (Config.Timeline).
func WriteCapacitySVG(w io.Writer, workload string, results []*Result) error {
	height := marginT + float64(len(results))*(panelH+gapH) + 10
	width := marginL + plotW + marginR
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="11">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="16" font-size="14">%s: cpu held against demand over time</text>`+"\n", marginL, esc(workload))
	legend := []string{"held", "booting", "busy", "demand"}
	for i, k := range legend {
		x := marginL + 330 + float64(i)*90
		fmt.Fprintf(&b, `<rect x="%.0f" y="7" width="12" height="10" fill="%s"/><text x="%.0f" y="16">%s</text>`+"\n", x, seriesColor[k], x+16, k)
	}
	for i, r := range results {
		var tmax float64
		for _, s := range r.Timeline {
			tmax = max(tmax, s.At.Seconds())
		}
		tmax = niceCeil(math.Max(tmax, 1))
		cols := bin(r.Timeline, int(plotW/2), tmax)
		var ymax float64
		for _, c := range cols {
			ymax = max(ymax, c.held+c.booting, c.demand)
		}
		ymax = niceCeil(math.Max(ymax, 1))
		top := marginT + float64(i)*(panelH+gapH) + 14
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="12">%s: makespan %.0f s</text>`+"\n", marginL, top-4, esc(r.Policy), r.Metrics.Makespan)
		axes(&b, marginL, top, plotW, panelH, tmax, ymax, "s", "cpu")
		px := func(t float64) float64 { return marginL + t/tmax*plotW }
		py := func(v float64) float64 { return top + panelH - v/ymax*panelH }
		// Busy as a filled area, the others as step lines.
		var area strings.Builder
		fmt.Fprintf(&area, "M%.1f,%.1f", px(0), py(0))
		for _, c := range cols {
			fmt.Fprintf(&area, " L%.1f,%.1f L%.1f,%.1f", px(c.t0), py(c.busy), px(c.t1), py(c.busy))
		}
		fmt.Fprintf(&area, " L%.1f,%.1f Z", px(cols[len(cols)-1].t1), py(0))
		fmt.Fprintf(&b, `<path d="%s" fill="%s" fill-opacity="0.35" stroke="none"/>`+"\n", area.String(), seriesColor["busy"])
		line := func(name string, v func(c column) float64, dash string) {
			var p strings.Builder
			for k, c := range cols {
				op := "L"
				if k == 0 {
					op = "M"
				}
				fmt.Fprintf(&p, "%s%.1f,%.1f L%.1f,%.1f ", op, px(c.t0), py(v(c)), px(c.t1), py(v(c)))
			}
			fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.4"%s/>`+"\n", p.String(), seriesColor[name], dash)
		}
		line("booting", func(c column) float64 { return c.held + c.booting }, ` stroke-dasharray="3,2"`)
		line("held", func(c column) float64 { return c.held }, "")
		line("demand", func(c column) float64 { return c.demand }, "")
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// A column is the samples of one pixel column, by their largest values.
type column struct {
	t0, t1                      float64
	held, booting, busy, demand float64
}

// bin groups samples into n columns over [0, tmax], keeping the largest
// value of each series, so that spikes survive.
func bin(samples []Sample, n int, tmax float64) []column {
	cols := make([]column, 0, n)
	if len(samples) == 0 {
		return []column{{t0: 0, t1: tmax}}
	}
	k := 0
	for i := range n {
		t0, t1 := tmax*float64(i)/float64(n), tmax*float64(i+1)/float64(n)
		c := column{t0: t0, t1: t1}
		found := false
		for ; k < len(samples) && samples[k].At.Seconds() < t1; k++ {
			s := samples[k]
			c.held, c.booting = max(c.held, s.Held), max(c.booting, s.Booting)
			c.busy, c.demand = max(c.busy, s.Busy), max(c.demand, s.Busy+s.Waiting)
			found = true
		}
		if !found {
			if samples[len(samples)-1].At.Seconds() < t0 {
				break // past the end of the run
			}
			if len(cols) > 0 {
				p := cols[len(cols)-1]
				c.held, c.booting, c.busy, c.demand = p.held, p.booting, p.busy, p.demand
			}
		}
		cols = append(cols, c)
	}
	if len(cols) == 0 {
		cols = append(cols, column{t0: 0, t1: tmax})
	}
	return cols
}

// WriteParetoSVG draws the results of one workload on the (makespan
// ratio, waste) plane, joins the Pareto front, and marks the lower bound
// (ratio 1, no waste). The ratio axis is logarithmic when it spans more
// than a factor of 4. Stalled runs are left out.
func WriteParetoSVG(w io.Writer, workload string, results []*Result) error {
	var pts []*Result
	for _, r := range results {
		if r.Metrics.Stalled == "" && r.Metrics.MakespanRatio > 0 {
			pts = append(pts, r)
		}
	}
	xmax, ymax := 1.0, 1.0
	for _, r := range pts {
		xmax = max(xmax, r.Metrics.MakespanRatio)
		ymax = max(ymax, r.Metrics.Waste)
	}
	logx := xmax > 4
	if logx {
		xmax = math.Pow(2, math.Ceil(math.Log2(xmax*1.05)))
	} else {
		xmax = 1 + niceCeil((xmax-1)*1.1+0.05)
	}
	ymax = niceCeil(ymax * 1.1)
	const h = 420.0
	width, height := marginL+plotW+marginR+90, marginT+h+50
	px := func(x float64) float64 {
		if logx {
			return marginL + math.Log2(x)/math.Log2(xmax)*plotW
		}
		return marginL + (x-1)/(xmax-1)*plotW
	}
	py := func(y float64) float64 { return marginT + h - y/ymax*h }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="11">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="16" font-size="14">%s: makespan ratio against wasted cpu-minutes (lower left is better)</text>`+"\n", marginL, esc(workload))
	xl := "makespan / lower bound"
	if logx {
		xl += " (log scale)"
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333"/>`+"\n", marginL, marginT, plotW, h)
		for x := 1.0; x <= xmax*1.0001; x *= 2 {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n",
				px(x), marginT, px(x), marginT+h, px(x), marginT+h+13, num(x))
		}
		axesY(&b, marginL, marginT, plotW, h, ymax, "waste cpu-min")
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", marginL+plotW, marginT+h+26, esc(xl))
	} else {
		axesFrom(&b, marginL, marginT, plotW, h, 1, xmax, ymax, xl, "waste cpu-min")
	}
	// The front, by makespan.
	var front []*Result
	for _, a := range pts {
		if !slices.ContainsFunc(pts, func(o *Result) bool { return Dominates(o.Metrics, a.Metrics) }) {
			front = append(front, a)
		}
	}
	slices.SortFunc(front, func(a, b *Result) int { return cmp.Compare(a.Metrics.MakespanRatio, b.Metrics.MakespanRatio) })
	if len(front) > 0 {
		var p strings.Builder
		for k, r := range front {
			x, y := px(r.Metrics.MakespanRatio), py(r.Metrics.Waste)
			if k == 0 {
				fmt.Fprintf(&p, "M%.1f,%.1f", x, py(ymax))
			}
			fmt.Fprintf(&p, " L%.1f,%.1f", x, y)
			if k+1 < len(front) {
				fmt.Fprintf(&p, " L%.1f,%.1f", px(front[k+1].Metrics.MakespanRatio), y)
			} else {
				fmt.Fprintf(&p, " L%.1f,%.1f", px(xmax), y)
			}
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="#999" stroke-dasharray="4,3"/>`+"\n", p.String())
	}
	fmt.Fprintf(&b, `<path d="M%.1f,%.1f l6,-6 l6,6 l-6,6 z" fill="black"/>`+"\n", px(1)-6, py(0))
	fmt.Fprintf(&b, `<path d="M%.1f,38 l5,-5 l5,5 l-5,5 z" fill="black"/><text x="%.1f" y="42">lower bound (ratio 1, no waste)</text>`+"\n",
		marginL+plotW-200, marginL+plotW-186)
	fmt.Fprintf(&b, `<circle cx="%.1f" cy="56" r="4.5" fill="#d62728"/><text x="%.1f" y="60">on the Pareto front</text>`+"\n",
		marginL+plotW-195, marginL+plotW-186)
	// Points, then labels to their right, nudged apart.
	type label struct {
		x, y float64
		text string
	}
	var labels []label
	for _, r := range pts {
		x, y := px(r.Metrics.MakespanRatio), py(r.Metrics.Waste)
		fill := "#1f77b4"
		if slices.Contains(front, r) {
			fill = "#d62728"
		}
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4.5" fill="%s"><title>%s</title></circle>`+"\n", x, y, fill, esc(r.Summary()))
		labels = append(labels, label{x + 8, y + 4, r.Policy})
	}
	slices.SortStableFunc(labels, func(a, b label) int { return cmp.Compare(a.y, b.y) })
	for i := range labels {
		for j := range i {
			l, o := &labels[i], labels[j]
			if math.Abs(l.x-o.x) < 110 && l.y-o.y < 12 {
				l.y = o.y + 12
			}
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", labels[i].x, labels[i].y, esc(labels[i].text))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func axes(b *strings.Builder, x, y, w, h, xmax, ymax float64, xl, yl string) {
	axesFrom(b, x, y, w, h, 0, xmax, ymax, xl, yl)
}

// axesY draws the ticks of a y axis in [0, ymax] and its label.
func axesY(b *strings.Builder, x, y, w, h, ymax float64, yl string) {
	for _, t := range ticks(0, ymax) {
		ty := y + h - t/ymax*h
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n",
			x, ty, x+w, ty, x-4, ty+4, num(t))
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" transform="rotate(-90 %.1f %.1f)" text-anchor="end">%s</text>`+"\n", x-40, y, x-40, y, esc(yl))
}

// axesFrom draws a frame with ticks for x in [x0, x1] and y in [0, ymax].
func axesFrom(b *strings.Builder, x, y, w, h, x0, x1, ymax float64, xl, yl string) {
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333"/>`+"\n", x, y, w, h)
	for _, t := range ticks(x0, x1) {
		tx := x + (t-x0)/(x1-x0)*w
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n",
			tx, y, tx, y+h, tx, y+h+13, num(t))
	}
	axesY(b, x, y, w, h, ymax, yl)
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", x+w, y+h+26, esc(xl))
}

// ticks returns about five round values in [lo, hi].
func ticks(lo, hi float64) []float64 {
	if hi <= lo {
		return []float64{lo}
	}
	step := niceStep((hi - lo) / 5)
	var out []float64
	for t := math.Ceil(lo/step-1e-9) * step; t <= hi+1e-9*step; t += step {
		out = append(out, t)
	}
	return out
}

func niceStep(x float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(x)))
	switch f := x / p; {
	case f <= 1:
		return p
	case f <= 2:
		return 2 * p
	case f <= 5:
		return 5 * p
	}
	return 10 * p
}

// niceCeil rounds x up to a round value.
func niceCeil(x float64) float64 {
	if x <= 0 {
		return 1
	}
	s := niceStep(x / 5)
	return math.Ceil(x/s-1e-9) * s
}

func num(x float64) string {
	if math.Abs(x-math.Round(x)) < 1e-9 {
		return fmt.Sprintf("%.0f", x)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", x), "0"), ".")
}

func esc(s string) string { return html.EscapeString(s) }

// fileName turns a workload name into a file name.
func fileName(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}

// WriteFiles writes the report into dir (made if missing): report.json,
// table.txt (WriteText: the table and the comparison), and for each workload NAME-capacity.svg (when the results
// have timelines) and NAME-pareto.svg. It returns the paths written.
func (r *Report) WriteFiles(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	write := func(name string, f func(io.Writer) error) error {
		p := filepath.Join(dir, name)
		var b strings.Builder
		if err := f(&b); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	}
	if err := write("report.json", r.WriteJSON); err != nil {
		return paths, err
	}
	if err := write("table.txt", r.WriteText); err != nil {
		return paths, err
	}
	for _, wl := range r.Workloads {
		rs := r.Of(wl.Name)
		if len(rs) == 0 {
			continue
		}
		base := fileName(wl.Name)
		if slices.ContainsFunc(rs, func(x *Result) bool { return len(x.Timeline) > 0 }) {
			if err := write(base+"-capacity.svg", func(w io.Writer) error { return WriteCapacitySVG(w, wl.Name, rs) }); err != nil {
				return paths, err
			}
		}
		if err := write(base+"-pareto.svg", func(w io.Writer) error { return WriteParetoSVG(w, wl.Name, rs) }); err != nil {
			return paths, err
		}
	}
	return paths, nil
}
