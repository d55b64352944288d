package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/ebbflow/ebb"
)

// ElasticBaselines returns the names of the baselines that scale with
// the work, as the systems they follow do: the ones a policy's makespan
// is judged against (static never buys, static-max buys everything at
// once).
func ElasticBaselines() []string { return []string{"spark", "dask", "ray", "partek", "reflow"} }

// A Summary sets one policy against the best of some others over several
// reports, one per seed, workload by workload: one seed meets one draw
// of boot latencies and failures (and of the standard workloads), and a
// policy's figures on a short flow can turn on a single boot, so a
// comparison that holds over several seeds says more than one.
type Summary struct {
	Policy string `json:"policy"`
	// Against names the policies whose best makespan each of Policy's
	// is divided by.
	Against []string `json:"against"`
	Seeds   []uint64 `json:"seeds"`
	// Workloads holds a row per workload that every report has, in the
	// first report's order.
	Workloads []SummaryRow `json:"workloads"`
	// Geomean and Worst are over every workload and seed; Dominated
	// counts the (workload, seed) pairs on which some policy of the
	// report dominates Policy (see Dominates), of Runs pairs.
	Geomean   float64 `json:"geomean"`
	Worst     float64 `json:"worst"`
	Dominated int     `json:"dominated"`
	Runs      int     `json:"runs"`
	// Thrash is Policy's worst thrash % and BusyKills its busy kills
	// summed, over every workload and seed.
	Thrash    float64 `json:"thrash_pct"`
	BusyKills int     `json:"busy_kills"`
	// Policies counts, for every policy of the reports, its runs among
	// those summarized and how many of them some other policy
	// dominates: Dominated put beside every other policy's, in the
	// order the policies first appear.
	Policies []PolicyRuns `json:"policies"`
}

// PolicyRuns is one policy's line of [Summary.Policies].
type PolicyRuns struct {
	Policy    string `json:"policy"`
	Runs      int    `json:"runs"`
	Dominated int    `json:"dominated"`
}

// A SummaryRow is one workload of a [Summary]: Policy's makespan divided
// by the best of Against's, seed by seed, their geometric mean and the
// worst, and the policies that dominated it with how many seeds each.
type SummaryRow struct {
	Workload    string         `json:"workload"`
	Ratios      []float64      `json:"ratios"`
	Geomean     float64        `json:"geomean"`
	Worst       float64        `json:"worst"`
	DominatedIn int            `json:"dominated_in"`
	DominatedBy map[string]int `json:"dominated_by,omitempty"`
}

// Summarize sets policy against the best of against (by makespan) in
// each report, workload by workload. Every report must hold policy and
// at least one of against for each workload it summarizes; a workload
// missing from a report is left out of the summary. It fails when
// reports is empty or when policy or all of against are missing from a
// workload.
func Summarize(reports []*Report, policy string, against []string) (*Summary, error) {
	if len(reports) == 0 {
		return nil, fmt.Errorf("summary: no reports: %w", ebb.ErrInvalid)
	}
	s := &Summary{Policy: policy, Against: slices.Clone(against)}
	for _, r := range reports {
		s.Seeds = append(s.Seeds, r.Seed)
	}
	var logSum float64
	at := map[string]int{} // index in s.Policies
	for _, wl := range reports[0].Workloads {
		if slices.ContainsFunc(reports, func(r *Report) bool { return len(r.Of(wl.Name)) == 0 }) {
			continue // not in every report
		}
		row := SummaryRow{Workload: wl.Name}
		logs := 0.0
		for _, r := range reports {
			rs := r.Of(wl.Name)
			var own *Result
			best := math.Inf(1)
			for _, x := range rs {
				switch {
				case x.Policy == policy:
					own = x
				case slices.Contains(against, x.Policy) && x.Metrics.Stalled == "":
					best = min(best, x.Metrics.Makespan)
				}
			}
			if own == nil {
				return nil, fmt.Errorf("summary: %s, seed %d: no result of policy %q: %w", wl.Name, r.Seed, policy, ebb.ErrInvalid)
			}
			if math.IsInf(best, 1) || best <= 0 {
				return nil, fmt.Errorf("summary: %s, seed %d: no finished result of %s: %w", wl.Name, r.Seed, strings.Join(against, ", "), ebb.ErrInvalid)
			}
			// A stalled run counts at its makespan so far; every
			// finished run dominates it.
			ratio := own.Metrics.Makespan / best
			row.Ratios = append(row.Ratios, ratio)
			logs += math.Log(ratio)
			row.Worst = max(row.Worst, ratio)
			s.Thrash = max(s.Thrash, own.Metrics.Thrash)
			s.BusyKills += own.Metrics.BusyKills
			dominated := false
			for _, x := range rs {
				if x.Policy != policy && Dominates(x.Metrics, own.Metrics) {
					if row.DominatedBy == nil {
						row.DominatedBy = map[string]int{}
					}
					row.DominatedBy[x.Policy]++
					dominated = true
				}
			}
			if dominated {
				row.DominatedIn++
			}
			for _, x := range rs {
				i, ok := at[x.Policy]
				if !ok {
					i = len(s.Policies)
					at[x.Policy] = i
					s.Policies = append(s.Policies, PolicyRuns{Policy: x.Policy})
				}
				s.Policies[i].Runs++
				if slices.ContainsFunc(rs, func(y *Result) bool { return y != x && Dominates(y.Metrics, x.Metrics) }) {
					s.Policies[i].Dominated++
				}
			}
		}
		row.Geomean = math.Exp(logs / float64(len(reports)))
		logSum += logs
		s.Runs += len(reports)
		s.Dominated += row.DominatedIn
		s.Worst = max(s.Worst, row.Worst)
		s.Workloads = append(s.Workloads, row)
	}
	if s.Runs > 0 {
		s.Geomean = math.Exp(logSum / float64(s.Runs))
	}
	return s, nil
}

// WriteText writes the summary as a table, a row per workload, then the
// totals and every policy's runs dominated.
func (s *Summary) WriteText(w io.Writer) error {
	seeds := make([]string, len(s.Seeds))
	for i, x := range s.Seeds {
		seeds[i] = fmt.Sprint(x)
	}
	t := table{head: []string{"workload", "geomean", "worst", "by seed", "dominated in", "dominated by (seeds)"}}
	for _, r := range s.Workloads {
		ratios := make([]string, len(r.Ratios))
		for i, x := range r.Ratios {
			ratios[i] = f3(x)
		}
		var by []string
		for _, p := range slices.Sorted(maps.Keys(r.DominatedBy)) {
			by = append(by, fmt.Sprintf("%s (%d)", p, r.DominatedBy[p]))
		}
		t.add(r.Workload, f3(r.Geomean), f3(r.Worst), strings.Join(ratios, " "), fmt.Sprint(r.DominatedIn), orNone(by))
	}
	fmt.Fprintf(w, "%s's makespan over the best of %s, seeds %s:\n", s.Policy, strings.Join(s.Against, ", "), strings.Join(seeds, ", "))
	if err := t.write(w, 1); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nall: geomean %.4f, worst %.3f; dominated in %d of %d runs; thrash %.1f %% at worst; busy kills %d\n",
		s.Geomean, s.Worst, s.Dominated, s.Runs, s.Thrash, s.BusyKills)
	if len(s.Policies) > 0 {
		each := make([]string, len(s.Policies))
		for i, p := range s.Policies {
			each[i] = fmt.Sprintf("%s %d of %d", p.Policy, p.Dominated, p.Runs)
		}
		fmt.Fprintf(w, "every policy, runs dominated: %s\n", strings.Join(each, ", "))
	}
	_, err := fmt.Fprintf(w, "(a policy dominates another when it is as fast or faster and wastes no more, and better on one; %s)\n", toleranceNote())
	return err
}

// WriteJSON writes s as indented JSON.
func (s *Summary) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}
