package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/sim"
	"github.com/grailbio/base/status"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// simCmd runs workloads × policies through the simulator (package sim) and
// prints the table and the comparison; with -out it also writes
// report.json, table.txt (what it printed) and the SVG plots. With
// -seeds above 1 it runs them once per seed, writes each seed's files
// into -out/seed-N, and prints (and writes into -out) a summary of the
// -compare policy against the best elastic baseline over the seeds.
func simCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sim", "", stderr)
	var (
		workloads = fs.String("workloads", "standard",
			`standard workloads, comma-separated: `+strings.Join(sim.StandardNames(), ", ")+`, each with an optional ":TASKS"; "standard" for all of them, "none" for none`)
		policies = fs.String("policies", "all",
			`policies, comma-separated: `+strings.Join(sim.PolicyNames(), ", ")+`, each with optional knobs ":Field=value"; "all" for every one`)
		tracesDir = fs.String("traces", "auto",
			`directory of real WfFormat traces to add; "auto" looks for ../shared/traces from the current directory up to the module root; "none" skips them`)
		seed     = fs.Uint64("seed", 1, "seed of the standard workloads and of the cluster's draws")
		seeds    = fs.Int("seeds", 1, "how many seeds to run, from -seed on: above 1, each seed's report goes into -out/seed-N, and a summary of the -compare policy against the best elastic baseline (spark, dask, ray, partek, reflow) over the seeds is printed and written")
		out      = fs.String("out", "", "directory to write report.json, table.txt and SVG plots into (none: print the table only)")
		replay   = fs.Int("replay", 1, "replay each workload this many times as one stream of runs")
		gap      = fs.Duration("gap", 10*time.Minute, "with -replay or -history: quiet time between the end of a run (its last task finished) and the start of the next")
		history  = fs.Int("history", 0, "runs of each workload to simulate before the one measured, under the same policy on the same cluster, so that what the policy learned (task durations, allocation latencies) carries over")
		hjitter  = fs.Float64("history-jitter", 0, "with -history: how much each task's duration in the runs before differs from the measured run's, as the sigma of a lognormal factor (0.3: about ±30 %); 0: the runs before are the measured one")
		tcores   = fs.String("trace-cores", "count", "where a WfFormat task's cpu comes from: count (its recorded core count, 1 when missing) or avgcpu (its average cpu use, avgCPU/100 rounded up, at least 1)")
		tasks    = fs.Int("tasks", 0, "tasks in each standard workload (0: each one's default)")
		boot     = fs.String("boot", "lognormal:30s,0.3", "boot latency: 30s, uniform:10s,90s, lognormal:MEDIAN,SIGMA or exp:MEAN")
		fail     = fs.Float64("fail", 0.02, "probability that a launch fails")
		maxW     = fs.Int("max-workers", 32, "most workers alive or booting at once")
		price    = fs.Float64("price", 1, "price of one cpu of an auxiliary alloc per minute it lives, booting included")
		quantum  = fs.Duration("quantum", time.Minute, "billing quantum: each auxiliary alloc's life is rounded up to it (0: exact)")
		primary  = fs.String("primary", "cpu=8,mem=32GiB", "the primary alloc's resources")
		tick     = fs.Duration("tick", time.Second, "the stealer's tick")
		parallel = fs.Int("parallel", runtime.GOMAXPROCS(0), "simulations run at once")
		compare  = fs.String("compare", "default", "policy to set against the others after the table (empty: none)")
		quiet    = fs.Bool("q", false, "no progress on stderr")
		policyL  listFlag
		traceL   listFlag
		shapeL   listFlag
	)
	fs.Var(&policyL, "policy", `one more policy with knobs (repeatable), as in "default:MaxRequest=cpu=8,mem=32GiB"`)
	fs.Var(&traceL, "trace", "a trace file to add (repeatable): WfFormat JSON, or the simulator's CSV or JSON format")
	fs.Var(&shapeL, "shape", "a worker shape (repeatable; default cpu=8,mem=32GiB)")
	var lf logFlags
	lf.register(fs, slog.LevelWarn)
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%v: %w", err, errUsage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: %w", fs.Args(), errUsage)
	}
	// The progress (a "sim" status group: the simulations done, and
	// one task per simulation under way) and the log share stderr.
	progress := startProgress(ctx, &lockedWriter{w: stderr}, isTerminal(stderr), *quiet)
	defer progress.stop()
	stderr = progress.w
	log, closeLog, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	usage := func(err error) error { return fmt.Errorf("%v: %w", err, errUsage) }

	// The cluster.
	cl := sim.Cluster{MaxWorkers: *maxW, FailProb: *fail, Price: *price, Quantum: *quantum, Tick: *tick}
	if cl.Boot, err = sim.ParseDist(*boot); err != nil {
		return usage(fmt.Errorf("-boot: %w", err))
	}
	if cl.Primary, err = ebb.ParseResources(*primary); err != nil {
		return usage(fmt.Errorf("-primary: %w", err))
	}
	if len(shapeL) == 0 {
		shapeL = listFlag{"cpu=8,mem=32GiB"}
	}
	for _, s := range shapeL {
		r, err := ebb.ParseResources(s)
		if err != nil {
			return usage(fmt.Errorf("-shape: %w", err))
		}
		cl.Shapes = append(cl.Shapes, r)
	}
	switch {
	case *maxW < 0:
		return usage(fmt.Errorf("-max-workers %d: must not be negative", *maxW))
	case *replay < 1:
		return usage(fmt.Errorf("-replay %d: must be at least 1", *replay))
	case *history < 0:
		return usage(fmt.Errorf("-history %d: must not be negative", *history))
	case *gap < 0:
		return usage(fmt.Errorf("-gap %v: must not be negative", *gap))
	case !(*hjitter >= 0 && *hjitter <= 2):
		return usage(fmt.Errorf("-history-jitter %v: must be within [0, 2]", *hjitter))
	case *hjitter > 0 && *history == 0:
		return usage(fmt.Errorf("-history-jitter %v: needs -history", *hjitter))
	case *tasks < 0:
		return usage(fmt.Errorf("-tasks %d: must not be negative", *tasks))
	case *parallel < 1:
		return usage(fmt.Errorf("-parallel %d: must be at least 1", *parallel))
	case *seeds < 1:
		return usage(fmt.Errorf("-seeds %d: must be at least 1", *seeds))
	case *seeds > 1 && *compare == "":
		return usage(errors.New("-seeds above 1 summarizes the -compare policy: name one"))
	}
	if cl, err = cl.WithDefaults(); err != nil {
		return usage(err)
	}

	// The policies.
	var specs []sim.PolicySpec
	names := splitList(*policies)
	if len(names) == 1 && names[0] == "all" {
		names = sim.PolicyNames()
	}
	for _, n := range append(names, policyL...) {
		ps, err := sim.ParsePolicy(n)
		if err != nil {
			return usage(fmt.Errorf("-policies: %w", err))
		}
		specs = append(specs, ps)
	}
	if len(specs) == 0 {
		return usage(errors.New("no policies"))
	}

	// The workloads: the standard ones are drawn from the seed, the
	// traces read once.
	wnames := splitList(*workloads)
	switch {
	case len(wnames) == 1 && wnames[0] == "standard":
		wnames = sim.StandardNames()
	case len(wnames) == 1 && wnames[0] == "none":
		wnames = nil
	}
	standard := func(seed uint64) ([]*sim.Workload, error) {
		var ws []*sim.Workload
		for _, n := range wnames {
			name, size, _ := strings.Cut(n, ":")
			cfg := sim.StdConfig{Tasks: *tasks, Seed: seed, PrimaryCPU: cl.Primary[ebb.CPU]}
			if size != "" {
				var err error
				if cfg.Tasks, err = strconv.Atoi(size); err != nil || cfg.Tasks <= 0 {
					return nil, usage(fmt.Errorf("-workloads: %q: want NAME or NAME:TASKS", n))
				}
			}
			w, err := sim.Standard(name, cfg)
			if err != nil {
				return nil, usage(fmt.Errorf("-workloads: %w", err))
			}
			ws = append(ws, w)
		}
		return ws, nil
	}
	// Checked before any trace is read.
	if _, err := standard(*seed); err != nil {
		return err
	}
	var traces []*sim.Workload
	cores, err := sim.ParseCoreSource(*tcores)
	if err != nil {
		return usage(fmt.Errorf("-trace-cores: %w", err))
	}
	reader := sim.TraceReader{Cores: cores}
	for _, p := range traceL {
		w, err := reader.ReadFile(p)
		if err != nil {
			return err
		}
		traces = append(traces, w)
	}
	switch dir := *tracesDir; dir {
	case "none":
	default:
		if dir == "auto" {
			cwd, _ := os.Getwd()
			var ok bool
			if dir, ok = sim.FindTraces(cwd); !ok {
				fmt.Fprintln(stderr, "ebb sim: no ../shared/traces beside the module: real traces skipped (-traces DIR to name them)")
				break
			}
		}
		real, err := reader.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("-traces %s: %w", dir, err)
		}
		if len(real) == 0 {
			fmt.Fprintf(stderr, "ebb sim: no *.json traces in %s\n", dir)
		}
		traces = append(traces, real...)
	}
	if len(wnames) == 0 && len(traces) == 0 {
		return usage(errors.New("no workloads"))
	}
	workloadsOf := func(seed uint64) ([]*sim.Workload, error) {
		ws, err := standard(seed)
		if err != nil {
			return nil, err
		}
		ws = append(ws, traces...)
		if *replay > 1 {
			for i, w := range ws {
				ws[i] = sim.Replay(w, *replay, *gap)
			}
		}
		return ws, nil
	}

	if *seeds > 1 {
		// The summary needs the policy and an elastic baseline to set
		// it against.
		has := func(names ...string) bool {
			return slices.ContainsFunc(specs, func(ps sim.PolicySpec) bool { return slices.Contains(names, ps.Name) })
		}
		if !has(*compare) || !has(sim.ElasticBaselines()...) {
			return usage(fmt.Errorf("-seeds %d: the policies must include -compare's %q and one of %s", *seeds, *compare, strings.Join(sim.ElasticBaselines(), ", ")))
		}
	}

	// Run.
	var mu sync.Mutex
	start := time.Now()
	group := progress.group("sim")
	running := map[string]*status.Task{} // by workload and policy
	suite := sim.Suite{
		Policies: specs, Cluster: cl,
		Timeline: *out != "", Parallel: *parallel, History: *history, HistoryJitter: *hjitter, Gap: *gap,
	}
	var reports []*sim.Report
	for k := range *seeds {
		sd := *seed + uint64(k)
		ws, err := workloadsOf(sd)
		if err != nil {
			return err
		}
		suite.Workloads, suite.Seed = ws, sd
		lg := log
		if *seeds > 1 {
			lg = log.With("seed", sd)
		}
		suite.Log = lg // each policy decision at INFO (-v)
		suite.OnResult = func(done, total int, r *sim.Result) {
			lg.Info("simulation done", "done", done, "total", total, "result", r.Summary(), "elapsed", time.Since(start))
		}
		if !*quiet {
			suite.OnResult = func(done, total int, r *sim.Result) {
				mu.Lock()
				defer mu.Unlock()
				lg.Info("simulation done", "done", done, "total", total, "result", r.Summary(), "elapsed", time.Since(start))
				if t := running[r.Workload+"\x00"+r.Policy]; t != nil {
					t.Done()
					delete(running, r.Workload+"\x00"+r.Policy)
				}
				of := ""
				if *seeds > 1 {
					of = fmt.Sprintf(" of seed %d (%d of %d)", sd, k+1, *seeds)
				}
				group.Printf("%d of %d simulations done%s", done, total, of)
				progress.event(fmt.Sprintf("ebb sim: [%d/%d]%s %s (%.1fs)", done, total, of, r.Summary(), time.Since(start).Seconds()))
			}
			suite.OnProgress = func(w, p string, pr sim.Progress) {
				mu.Lock()
				defer mu.Unlock()
				key := w + "\x00" + p
				t := running[key]
				if t == nil {
					t = group.Startf("%s × %s", w, p)
					running[key] = t
				}
				t.Printf("%d of %d tasks done, at %v", pr.Done, pr.Tasks, pr.Now.Round(time.Second))
			}
		}
		rep, err := suite.Run(ctx)
		if err != nil {
			return err
		}
		rep.Against = *compare
		dir := *out
		if *seeds == 1 {
			if err := rep.WriteText(stdout); err != nil {
				return err
			}
		} else if dir != "" {
			dir = filepath.Join(dir, fmt.Sprintf("seed-%d", sd))
		}
		if dir != "" {
			paths, err := rep.WriteFiles(dir)
			if err != nil {
				return err
			}
			if !*quiet {
				fmt.Fprintf(stderr, "ebb sim: wrote %d files to %s\n", len(paths), dir)
			}
		}
		reports = append(reports, rep)
	}
	if *seeds == 1 {
		return nil
	}
	sum, err := sim.Summarize(reports, *compare, sim.ElasticBaselines())
	if err != nil {
		return err
	}
	if err := sum.WriteText(stdout); err != nil {
		return err
	}
	if *out != "" {
		paths, err := sum.WriteFiles(*out)
		if err != nil {
			return err
		}
		if !*quiet {
			fmt.Fprintf(stderr, "ebb sim: wrote %d files to %s\n", len(paths), *out)
		}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
