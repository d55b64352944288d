package sim

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// WriteParetoSVG draws the results of one workload on the (makespan
// ratio, waste) plane, joins the Pareto front, and marks the lower bound
// (ratio 1, no waste). The ratio axis is logarithmic when it spans more
// than a factor of 4. Stalled runs are left out. Policies whose points
// coincide share one label; a label pushed away from its point by
// another is joined to it by a thin line. The default policy's point is
// ringed and its label bold.
func WriteParetoSVG(w io.Writer, workload string, results []*Result) error {
	return writeParetoSVG(w, workload, results, "default")
}

func writeParetoSVG(w io.Writer, workload string, results []*Result, highlight string) error {
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
	width, height := marginL+plotW+marginR+90, topY+h+50
	px := func(x float64) float64 {
		if logx {
			return marginL + math.Log2(x)/math.Log2(xmax)*plotW
		}
		return marginL + (x-1)/(xmax-1)*plotW
	}
	py := func(y float64) float64 { return topY + h - y/ymax*h }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="11">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="14">%s: makespan ratio against wasted cpu-minutes (lower left is better)</text>`+"\n", marginL, titleY, esc(workload))
	// The legend, in its own row between the title and the plot.
	lx := marginL
	fmt.Fprintf(&b, `<path d="M%.1f,%.1f l5,-5 l5,5 l-5,5 z" fill="black"/><text x="%.1f" y="%.1f">lower bound (ratio 1, no waste)</text>`+"\n", lx, legendY-4, lx+14, legendY)
	lx += 200
	fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4.5" fill="#d62728"/><text x="%.1f" y="%.1f">on the Pareto front</text>`+"\n", lx+5, legendY-4, lx+14, legendY)
	lx += 130
	fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4.5" fill="#1f77b4"/><text x="%.1f" y="%.1f">dominated</text>`+"\n", lx+5, legendY-4, lx+14, legendY)
	lx += 90
	fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="7" fill="none" stroke="black" stroke-width="1.8"/><text x="%.1f" y="%.1f" font-weight="bold">%s</text>`+"\n",
		lx+5, legendY-4, lx+16, legendY, esc(highlight))
	xl := "makespan / lower bound"
	if logx {
		xl += " (log scale)"
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333"/>`+"\n", marginL, topY, plotW, h)
		for x := 1.0; x <= xmax*1.0001; x *= 2 {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n",
				px(x), topY, px(x), topY+h, px(x), topY+h+13, num(x))
		}
		axesY(&b, marginL, topY, plotW, h, ymax, "waste cpu-min")
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", marginL+plotW, topY+h+26, esc(xl))
	} else {
		axesFrom(&b, marginL, topY, plotW, h, 1, xmax, ymax, xl, "waste cpu-min")
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
	// Points, then labels, one per group of coinciding points.
	for _, r := range pts {
		x, y := px(r.Metrics.MakespanRatio), py(r.Metrics.Waste)
		fill := "#1f77b4"
		if slices.Contains(front, r) {
			fill = "#d62728"
		}
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4.5" fill="%s"><title>%s</title></circle>`+"\n", x, y, fill, esc(r.Summary()))
		if isHighlighted(r.Policy, highlight) {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="7" fill="none" stroke="black" stroke-width="1.8"/>`+"\n", x, y)
		}
	}
	for _, l := range placeLabels(pts, px, py, highlight, width, topY+h-2) {
		if math.Hypot(l.x-l.px, l.y-l.py) > 14 {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#888" stroke-width="0.7"/>`+"\n", l.px, l.py, l.anchorX(), l.y-4)
		}
		weight := ""
		if l.bold {
			weight = ` font-weight="bold"`
		}
		anchor := ""
		if l.left {
			anchor = ` text-anchor="end"`
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f"%s%s>%s</text>`+"\n", l.x, l.y, anchor, weight, esc(l.text))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// A label of the Pareto plot: its text at (x, y) (baseline; right end
// when left), for the point at (px, py).
type label struct {
	x, y, px, py float64
	w            float64 // estimated width
	text         string
	bold, left   bool
}

func (l label) anchorX() float64 {
	if l.left {
		return l.x + 2
	}
	return l.x - 2
}

func (l label) span() (lo, hi float64) {
	if l.left {
		return l.x - l.w, l.x
	}
	return l.x, l.x + l.w
}

// placeLabels groups the points that coincide (within 3 px) under one
// label naming them all, puts each label right of its point (left of
// it near the right edge), and pushes a label that would overlap an
// earlier label or another point downward, 13 px at a time; one that
// would then leave the plot (below bottom) is pushed upward instead.
func placeLabels(pts []*Result, px, py func(float64) float64, highlight string, width, bottom float64) []label {
	const charW, lineH = 6.2, 13.0
	var out []label
	for _, r := range pts {
		x, y := px(r.Metrics.MakespanRatio), py(r.Metrics.Waste)
		i := slices.IndexFunc(out, func(l label) bool { return math.Abs(l.px-x) < 3 && math.Abs(l.py-y) < 3 })
		if i < 0 {
			out = append(out, label{px: x, py: y, text: r.Policy, bold: isHighlighted(r.Policy, highlight)})
			continue
		}
		out[i].text += " = " + r.Policy
		out[i].bold = out[i].bold || isHighlighted(r.Policy, highlight)
	}
	for i := range out {
		l := &out[i]
		l.w = charW * float64(len([]rune(l.text)))
		l.x, l.y = l.px+9, l.py+4
		if l.x+l.w > width-4 {
			l.left, l.x = true, l.px-9
		}
	}
	slices.SortStableFunc(out, func(a, b label) int { return cmp.Compare(a.y, b.y) })
	for i := range out {
		l := &out[i]
		start := l.y
		if push(l, out[:i], out, lineH, 1) && l.y > bottom {
			l.y = start
			push(l, out[:i], out, lineH, -1)
		}
	}
	return out
}

// push moves l down (dir 1) or up (dir -1) until it overlaps none of
// the placed labels nor any point but its own (the text spans y-9 to
// y+2; a point, 5 px around its centre). It reports whether l moved.
// Each push moves l strictly one way, to a place set by a label or a
// point, so it ends; the bound on rounds only guards against a mistake
// here hanging a report.
func push(l *label, placed, all []label, lineH, dir float64) bool {
	movedAny := false
	for moved, round := true, 0; moved && round < 4*len(all)+4; round++ {
		moved = false
		llo, lhi := l.span()
		for _, o := range placed {
			olo, ohi := o.span()
			// Compared with the very sums a push sets, so that a pushed
			// label is clear of o exactly.
			if llo < ohi && olo < lhi && l.y > o.y-lineH && l.y < o.y+lineH {
				l.y = o.y + dir*lineH
				moved = true
			}
		}
		for _, o := range all {
			if o.px-5 < lhi && llo < o.px+5 && o.py-5 < l.y+2 && l.y-9 < o.py+5 && (o.px != l.px || o.py != l.py) {
				if dir > 0 {
					l.y = o.py + 5 + 9 + 1
				} else {
					l.y = o.py - 5 - 2 - 1
				}
				moved = true
			}
		}
		movedAny = movedAny || moved
	}
	return movedAny
}
