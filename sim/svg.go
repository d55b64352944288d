package sim

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Plots, written as SVG text by hand.

const (
	plotW   = 760.0 // plot area
	panelH  = 130.0
	marginL = 60.0
	marginR = 20.0
	gapH    = 46.0
)

var seriesColor = map[string]string{
	"held": "#1f77b4", "booting": "#9ecae1", "busy": "#2ca02c", "demand": "#d62728",
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
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" transform="rotate(-90 %.1f %.1f)" text-anchor="end">%s</text>`+"\n", x-50, y, x-50, y, esc(yl))
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

// num formats a tick value: whole numbers without decimals, others with
// up to three; never "-0" (a tick at a tiny negative value, or at -0,
// from the arithmetic of ticks, reads 0).
func num(x float64) string {
	if math.Abs(x) < 5e-4 {
		return "0"
	}
	if math.Abs(x-math.Round(x)) < 1e-9 {
		return fmt.Sprintf("%.0f", x)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", x), "0"), ".")
}

func esc(s string) string { return html.EscapeString(s) }
