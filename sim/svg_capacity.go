package sim

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// WriteCapacitySVG draws, for each result of one workload, the cpu held
// (primary and granted auxiliary allocs), the cpu booting, the cpu busy,
// and the demand (busy plus waiting) over time, one panel per policy.
// The panels share their axes, from 0 to the longest makespan and the
// largest figure of any, so that panels compare at a glance; the default
// policy's panel is highlighted. Results need timelines
// (Config.Timeline).
func WriteCapacitySVG(w io.Writer, workload string, results []*Result) error {
	return writeCapacitySVG(w, workload, results, "default")
}

// Layout of the figures: a title row, a legend row below it, then the
// plot area.
const (
	titleY  = 18.0
	legendY = 38.0 // baseline of the legend row
	topY    = 52.0 // where the plot area starts
)

func writeCapacitySVG(w io.Writer, workload string, results []*Result, highlight string) error {
	height := topY + float64(len(results))*(panelH+gapH) + 10
	width := marginL + plotW + marginR
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="11">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="14">%s: cpu held against demand over time (shared axes)</text>`+"\n", marginL, titleY, esc(workload))
	for i, k := range []string{"held", "booting", "busy", "demand"} {
		x := marginL + float64(i)*90
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="12" height="10" fill="%s"/><text x="%.0f" y="%.0f">%s</text>`+"\n", x, legendY-9, seriesColor[k], x+16, legendY, k)
	}
	// One time axis and one cpu axis for every panel.
	var tmax float64
	for _, r := range results {
		for _, s := range r.Timeline {
			tmax = max(tmax, s.At.Seconds())
		}
	}
	tmax = niceCeil(math.Max(tmax, 1))
	cols := make([][]column, len(results))
	var ymax float64
	for i, r := range results {
		cols[i] = bin(r.Timeline, int(plotW/2), tmax)
		for _, c := range cols[i] {
			ymax = max(ymax, c.held+c.booting, c.demand)
		}
	}
	ymax = niceCeil(math.Max(ymax, 1))
	for i, r := range results {
		top := topY + float64(i)*(panelH+gapH) + 14
		weight := ""
		if isHighlighted(r.Policy, highlight) {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#fff8dc"/>`+"\n", marginL, top, plotW, panelH)
			weight = ` font-weight="bold"`
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="12"%s>%s: makespan %.0f s</text>`+"\n", marginL, top-4, weight, esc(r.Policy), r.Metrics.Makespan)
		axes(&b, marginL, top, plotW, panelH, tmax, ymax, "s", "cpu")
		px := func(t float64) float64 { return marginL + t/tmax*plotW }
		py := func(v float64) float64 { return top + panelH - v/ymax*panelH }
		cs := cols[i]
		// Busy as a filled area, the others as step lines.
		var area strings.Builder
		fmt.Fprintf(&area, "M%.1f,%.1f", px(0), py(0))
		for _, c := range cs {
			fmt.Fprintf(&area, " L%.1f,%.1f L%.1f,%.1f", px(c.t0), py(c.busy), px(c.t1), py(c.busy))
		}
		fmt.Fprintf(&area, " L%.1f,%.1f Z", px(cs[len(cs)-1].t1), py(0))
		fmt.Fprintf(&b, `<path d="%s" fill="%s" fill-opacity="0.35" stroke="none"/>`+"\n", area.String(), seriesColor["busy"])
		line := func(name string, v func(c column) float64, dash string) {
			var p strings.Builder
			for k, c := range cs {
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

// isHighlighted reports whether policy is the one to single out: its
// name, with or without knobs ("default:MinIdleTimeout=1m" is a
// default).
func isHighlighted(policy, highlight string) bool {
	return highlight != "" && (policy == highlight || strings.HasPrefix(policy, highlight+":"))
}
