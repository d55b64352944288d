package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
)

// A Report gathers the results of a [Suite]: the cluster, the workloads
// with their lower bounds, and a Result per (workload, policy), workload
// by workload. Its JSON form (WriteJSON) is deterministic: the same suite
// and seed give the same bytes.
type Report struct {
	Seed uint64 `json:"seed"`
	// TolerancePct is DominanceTolerance in percent: the tolerance the
	// report's fronts and comparisons were judged with.
	TolerancePct float64 `json:"dominance_tolerance_pct"`
	// History is how many runs of each workload came before the one
	// measured (see Suite.History).
	History int `json:"history,omitempty"`
	// HistoryJitter is how much the tasks' durations in those runs
	// differed from the measured one's (see Suite.HistoryJitter).
	HistoryJitter float64 `json:"history_jitter,omitempty"`
	// Against, when set, names the policy WriteText sets against the
	// others after the table.
	Against   string         `json:"against,omitempty"`
	Cluster   ClusterInfo    `json:"cluster"`
	Workloads []WorkloadInfo `json:"workloads"`
	Results   []*Result      `json:"results"`
}

// ClusterInfo is a Cluster as text, for reports.
type ClusterInfo struct {
	Primary    string   `json:"primary"`
	Shapes     []string `json:"shapes"`
	Boot       string   `json:"boot"`
	FailProb   float64  `json:"fail_prob"`
	MaxWorkers int      `json:"max_workers"`
	Price      float64  `json:"price_per_cpu_min"`
	Quantum    string   `json:"quantum"`
	Tick       string   `json:"tick"`
}

// WorkloadInfo describes a workload of a report, times in seconds.
type WorkloadInfo struct {
	Name      string    `json:"name"`
	Source    string    `json:"source"`
	Tasks     int       `json:"tasks"`
	Work      float64   `json:"work_cpu_min"`
	Span      float64   `json:"arrival_span_s"`
	Critical  float64   `json:"critical_path_s"`
	Area      float64   `json:"area_bound_s"`
	Arrivals  float64   `json:"arrival_bound_s"`
	LB        float64   `json:"lower_bound_s"`
	Defaulted Defaulted `json:"defaulted"`
}

func newReport(seed uint64, c Cluster, ws []*Workload) *Report {
	r := &Report{Seed: seed, TolerancePct: 100 * DominanceTolerance, Cluster: ClusterInfo{
		Primary: c.Primary.Format(), Boot: c.Boot.String(), FailProb: c.FailProb,
		MaxWorkers: c.MaxWorkers, Price: c.Price, Quantum: c.Quantum.String(), Tick: c.Tick.String(),
	}}
	for _, s := range c.Shapes {
		r.Cluster.Shapes = append(r.Cluster.Shapes, s.Format())
	}
	for _, w := range ws {
		b := LowerBound(w, c)
		r.Workloads = append(r.Workloads, WorkloadInfo{
			Name: w.Name, Source: w.Source, Tasks: len(w.Tasks), Work: w.Work() / 60,
			Span: w.Span().Seconds(), Critical: b.CriticalPath.Seconds(), Area: b.Area.Seconds(),
			Arrivals: b.Arrivals.Seconds(), LB: b.LB.Seconds(), Defaulted: w.Defaulted,
		})
	}
	return r
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadReport reads a report written by WriteJSON (without timelines).
func ReadReport(rd io.Reader) (*Report, error) {
	var r Report
	if err := json.NewDecoder(rd).Decode(&r); err != nil {
		return nil, jsonErr("report", err)
	}
	return &r, nil
}

// Of returns the results of workload, in the report's order.
func (r *Report) Of(workload string) []*Result {
	var out []*Result
	for _, x := range r.Results {
		if x != nil && x.Workload == workload {
			out = append(out, x)
		}
	}
	return out
}

// DominanceTolerance is the relative difference below which two figures
// count as equal when one result is set against another: 1 %, so that a
// policy that is 0.5 % faster but wastes more does not escape being
// dominated, and one that ties within noise dominates nothing.
const DominanceTolerance = 0.01

// Dominates reports whether a dominates b on the (makespan, waste) plane:
// as fast or faster and wasting no more, and better on one of the two.
// Figures within DominanceTolerance of each other (relative to the larger)
// count as equal. A run that stalled is dominated by every run that
// finished, and dominates none.
func Dominates(a, b Metrics) bool {
	switch {
	case a.Stalled != "":
		return false
	case b.Stalled != "":
		return true
	}
	eq := func(x, y float64) bool {
		return math.Abs(x-y) <= DominanceTolerance*math.Max(math.Abs(x), math.Abs(y))+1e-12
	}
	le := func(x, y float64) bool { return x < y || eq(x, y) }
	lt := func(x, y float64) bool { return x < y && !eq(x, y) }
	return le(a.Makespan, b.Makespan) && le(a.Waste, b.Waste) && (lt(a.Makespan, b.Makespan) || lt(a.Waste, b.Waste))
}

// Front returns the policies of workload whose results no other result of
// the workload dominates: the Pareto front of the (makespan, waste)
// plane, in the report's order.
func (r *Report) Front(workload string) []string {
	rs := r.Of(workload)
	var out []string
	for _, a := range rs {
		if !slices.ContainsFunc(rs, func(b *Result) bool { return Dominates(b.Metrics, a.Metrics) }) {
			out = append(out, a.Policy)
		}
	}
	return out
}

// A Comparison sets one policy against the others on one workload.
type Comparison struct {
	Workload string `json:"workload"`
	Policy   string `json:"policy"`
	// Dominates lists the policies it dominates, DominatedBy those that
	// dominate it.
	Dominates   []string `json:"dominates"`
	DominatedBy []string `json:"dominated_by"`
}

// Compare sets policy against every other policy, workload by workload.
func (r *Report) Compare(policy string) []Comparison {
	var out []Comparison
	for _, w := range r.Workloads {
		rs := r.Of(w.Name)
		i := slices.IndexFunc(rs, func(x *Result) bool { return x.Policy == policy })
		if i < 0 {
			continue
		}
		c := Comparison{Workload: w.Name, Policy: policy}
		for _, o := range rs {
			switch {
			case o.Policy == policy:
			case Dominates(rs[i].Metrics, o.Metrics):
				c.Dominates = append(c.Dominates, o.Policy)
			case Dominates(o.Metrics, rs[i].Metrics):
				c.DominatedBy = append(c.DominatedBy, o.Policy)
			}
		}
		out = append(out, c)
	}
	return out
}

// WriteTable writes the results as an aligned text table, a row per
// (workload, policy), then a line per workload with its lower bound and
// what it defaulted. A '*' marks the Pareto front of each workload.
// Resource-minutes are cpu-minutes; times are seconds.
func (r *Report) WriteTable(w io.Writer) error {
	t := table{head: []string{"workload", "policy", "makespan", "ratio", "waste", "waste%", "boot", "slack", "tail", "never",
		"cost", "wait50", "wait95", "wait99", "scale", "thrash%", "kills", "front"}}
	for _, wl := range r.Workloads {
		front := r.Front(wl.Name)
		for _, x := range r.Of(wl.Name) {
			m := x.Metrics
			mark := ""
			if slices.Contains(front, x.Policy) {
				mark = "*"
			}
			span := f0(m.Makespan)
			if m.Stalled != "" {
				span = "stalled"
			}
			t.add(wl.Name, x.Policy, span, f3(m.MakespanRatio), f1(m.Waste), pct(m.WastePct),
				f1(m.WasteBoot), f1(m.WasteSlack), f1(m.WasteIdleTail), f1(m.WasteNeverUsed),
				f0(m.Cost), f1(m.WaitP50), f1(m.WaitP95), f1(m.WaitP99),
				fmt.Sprint(m.ScaleEvents), f1(m.Thrash), fmt.Sprint(m.BusyKills), mark)
		}
	}
	if err := t.write(w, 2); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nmakespan and waits in s; waste, its split (boot, slack, idle tail, never used) and cost in cpu-minutes;\n"+
		"waste%% = waste / busy cpu-minutes of the auxiliary allocs (n/a when nothing ran on them); ratio = makespan / lower bound;\n"+
		"* = on the (makespan, waste) Pareto front, %s.\n", toleranceNote())
	switch {
	case r.History > 0 && r.HistoryJitter > 0:
		fmt.Fprintf(w, "each result measures the run that followed %d earlier runs of its workload under the same policy on the same cluster,\n"+
			"each task's duration in those a lognormal factor of sigma %g off the measured run's.\n", r.History, r.HistoryJitter)
	case r.History > 0:
		fmt.Fprintf(w, "each result measures the run that followed %d earlier runs of its workload under the same policy on the same cluster.\n", r.History)
	}
	shapes := make([]string, len(r.Cluster.Shapes))
	for i, s := range r.Cluster.Shapes {
		shapes[i] = readable(s)
	}
	fmt.Fprintf(w, "cluster: primary %s; workers %s, at most %d; boot %s; launch failures %g; price %g per cpu-minute; quantum %v\n\n",
		readable(r.Cluster.Primary), strings.Join(shapes, " | "), r.Cluster.MaxWorkers, r.Cluster.Boot, r.Cluster.FailProb, r.Cluster.Price, r.Cluster.Quantum)
	lb := table{head: []string{"workload", "tasks", "work", "LB", "critical", "T*", "arrivals", "defaulted"}}
	for _, wl := range r.Workloads {
		var d []string
		if wl.Defaulted.Cores > 0 {
			d = append(d, fmt.Sprintf("%d cores→1", wl.Defaulted.Cores))
		}
		if wl.Defaulted.Memory > 0 {
			d = append(d, fmt.Sprintf("%d memory→unknown", wl.Defaulted.Memory))
		}
		if wl.Defaulted.Runtime > 0 {
			d = append(d, fmt.Sprintf("%d runtime→0", wl.Defaulted.Runtime))
		}
		lb.add(wl.Name, fmt.Sprint(wl.Tasks), f1(wl.Work), f0(wl.LB), f0(wl.Critical), f0(wl.Area), f0(wl.Arrivals), strings.Join(d, ", "))
	}
	return lb.write(w, 1)
}

// WriteComparison writes, for policy, a line per workload: its makespan
// ratio, waste %, thrash %, busy kills, and the policies it dominates and
// is dominated by.
func (r *Report) WriteComparison(w io.Writer, policy string) error {
	t := table{head: []string{"workload", "ratio", "waste%", "thrash%", "kills", "dominates", "dominated by"}}
	for _, c := range r.Compare(policy) {
		var m Metrics
		for _, x := range r.Of(c.Workload) {
			if x.Policy == policy {
				m = x.Metrics
			}
		}
		t.add(c.Workload, f3(m.MakespanRatio), pct(m.WastePct), f1(m.Thrash), fmt.Sprint(m.BusyKills),
			orNone(c.Dominates), orNone(c.DominatedBy))
	}
	fmt.Fprintf(w, "%s against the others on the (makespan, waste) plane (a policy dominates another when it is as fast or faster\n"+
		"and wastes no more, and better on one; %s):\n", policy, toleranceNote())
	return t.write(w, 1)
}

// WriteText writes what `ebb sim` prints and table.txt holds: the table
// (WriteTable), then, when r.Against names a policy of the report, the
// comparison (WriteComparison).
func (r *Report) WriteText(w io.Writer) error {
	if err := r.WriteTable(w); err != nil {
		return err
	}
	if r.Against == "" || len(r.Compare(r.Against)) == 0 {
		return nil
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return err
	}
	return r.WriteComparison(w, r.Against)
}

func toleranceNote() string {
	return fmt.Sprintf("figures within %g %% of each other count as equal (DominanceTolerance)", 100*DominanceTolerance)
}

// readable turns the exact text of Resources into its readable form.
func readable(s string) string {
	r, err := ebb.ParseResources(s)
	if err != nil {
		return s
	}
	return r.String()
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "-"
	}
	return strings.Join(xs, " ")
}

func f0(x float64) string { return fmt.Sprintf("%.0f", x) }
func f1(x float64) string { return fmt.Sprintf("%.1f", x) }
func f3(x float64) string { return fmt.Sprintf("%.3f", x) }

func pct(p *float64) string {
	if p == nil {
		return "n/a"
	}
	return f1(*p)
}

// table writes aligned columns: the first left, the rest right, except
// the last when it is text.
type table struct {
	head []string
	rows [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer, left int) error {
	width := make([]int, len(t.head))
	for _, row := range append([][]string{t.head}, t.rows...) {
		for i, c := range row {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	for _, row := range append([][]string{t.head}, t.rows...) {
		for i, c := range row {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if i > 0 {
				b.WriteString("  ")
			}
			if i < left || i == len(row)-1 && i >= len(t.head)-1 && !numeric(t.rows, i) {
				b.WriteString(c)
				if i < len(row)-1 {
					b.WriteString(pad)
				}
			} else {
				b.WriteString(pad + c)
			}
		}
		b.WriteString("\n")
	}
	out := b.String()
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	_, err := io.WriteString(w, strings.Join(lines, "\n"))
	return err
}

func numeric(rows [][]string, col int) bool {
	for _, r := range rows {
		if col < len(r) && r[col] != "" && strings.TrimLeft(r[col], "0123456789.-") != "" {
			return false
		}
	}
	return true
}

// Summary returns a one-line description of a result, for progress
// messages.
func (x *Result) Summary() string {
	m := x.Metrics
	if m.Stalled != "" {
		return fmt.Sprintf("%s × %s: %s", x.Workload, x.Policy, m.Stalled)
	}
	return fmt.Sprintf("%s × %s: makespan %v (ratio %.3f), waste %.1f cpu-min (waste%% %s), thrash %.1f%%",
		x.Workload, x.Policy, time.Duration(m.Makespan*float64(time.Second)).Round(time.Second), m.MakespanRatio,
		m.Waste, pct(m.WastePct), m.Thrash)
}
