package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool/local"
	"github.com/ebbflow/ebb/repository"
	"github.com/ebbflow/ebb/runner"
	"github.com/ebbflow/ebb/sim"
	"github.com/ebbflow/ebb/stealer"
)

// runFlags are the flags run and resume share.
type runFlags struct {
	dir       string
	resources ebb.Resources
	primary   ebb.Resources
	elastic   bool
	outputs   string
	quiet     bool
	workers   string
	policy    string
	events    string
	// keepWorkers leaves the workers of -workers running when the run is
	// interrupted.
	keepWorkers bool
	log         logFlags
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.dir, "dir", ".ebb", "where the repository, cache and pool live")
	fs.Var(&f.resources, "resources", "what the local pool may hand out, as cpu=4,mem=8GiB (default: the whole machine)")
	fs.Var(&f.primary, "primary", "the primary alloc's size, as cpu=1,mem=1GiB (default: the flow's widest need)")
	fs.BoolVar(&f.elastic, "elastic", true, "take auxiliary allocs while work waits: from the rest of the machine, or from -workers")
	fs.StringVar(&f.workers, "workers", "", "take auxiliary allocs from workers: `procs` (ebb worker processes on this machine, within what -resources leaves beside the primary) or a workers file (YAML or JSON, as examples/workers.yaml)")
	fs.StringVar(&f.outputs, "outputs", "", "copy the outputs of the flow's last tasks into this directory")
	fs.BoolVar(&f.quiet, "quiet", false, "print only the summary")
	fs.StringVar(&f.events, "events", "", "write the run's events (tasks queued, started, finished, retried, lost; the stealer's decisions) to `FILE`, one JSON object a line; ebb resume appends")
	fs.BoolVar(&f.keepWorkers, "keep-workers", false, "when interrupted, leave the workers of -workers running for ebb resume to adopt, as it adopts those of a driver that crashed (each provider keeps a record of its workers under -dir, mode 0600); by default they are stopped")
	f.log.register(fs, slog.LevelWarn)
	fs.StringVar(&f.policy, "policy", "default", "the stealer's policy: `default`, with knobs as in ebb sim, as default:MaxRequest=cpu=8,mem=32GiB:MaxAllocs=16 (the fields of stealer.DefaultConfig)")
}

// execute runs (or resumes, given state) flow on this machine, showing
// progress on stderr and the summary on stdout.
func execute(ctx context.Context, f runFlags, flow *ebb.Flow, flowPath string, store runner.StateStore, state *runner.State, stdout, stderr io.Writer) (err error) {
	// The stealer's events, the progress line and the log all go to
	// stderr, from several goroutines.
	tty := isTerminal(stderr)
	stderr = &lockedWriter{w: stderr}
	log, closeLog, err := f.log.logger(stderr)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := closeLog(); err == nil && cerr != nil {
			err = fmt.Errorf("-log: %w", cerr)
		}
	}()
	repo, err := repository.Open(filepath.Join(f.dir, "repository"))
	if err != nil {
		return err
	}
	cache, err := repository.OpenCache(filepath.Join(f.dir, "repository"))
	if err != nil {
		return err
	}
	machine, err := local.New(local.Config{Dir: filepath.Join(f.dir, "pool"), Resources: f.resources, Repository: repo, Logger: log})
	if err != nil {
		return err
	}
	defer func() {
		if err := closeBounded(ctx, machine, closeTimeout); err != nil {
			fmt.Fprintf(stderr, "ebb: %v\n", err)
		}
	}()
	c := cluster.NewStatic(machine)
	cfg := runner.Config{
		Flow: flow, Cluster: c, Repository: repo, Cache: cache, Store: store,
		Program: "ebb run", Args: []string{flowPath},
		Primary: ebb.Requirements{Min: f.primary}, Logger: log,
	}
	if cfg.Command, err = f.record(); err != nil {
		return err
	}
	// interruptedRun says a signal interrupted the run: then
	// -keep-workers leaves the workers running.
	interruptedRun := false
	progress := &progressLine{w: stderr, tty: tty, every: progressEvery}
	// watch follows the workers of -workers, to say why none was
	// launched; primary is the primary alloc's expected size.
	var watch *auxWatch
	var primary ebb.Resources
	// Allocations on this machine are immediate.
	latency := 10 * time.Millisecond
	if f.elastic {
		cfg.Aux = c
		if f.workers != "" {
			wp, grant, err := f.startWorkers(ctx, machine, repo, flow, log, stderr)
			if err != nil {
				return err
			}
			cfg.Aux = nil
			if wp != nil {
				defer func() {
					if serr := wp.stop(f.keepWorkers && interruptedRun); err == nil && serr != nil {
						err = fmt.Errorf("stopping the workers: %w", serr)
					}
				}()
				cfg.Aux, latency = wp.elastic, wp.latency
				watch, primary = &auxWatch{}, grant
			}
		}
	}
	if cfg.Aux != nil {
		policy, err := runPolicy(f.policy, latency)
		if err != nil {
			return err
		}
		cfg.Steal = runner.StealConfig{Policy: policy}
		cfg.Steal.OnEvent = func(ev stealer.Event) {
			if watch != nil {
				watch.event(ev)
			}
			if !f.quiet {
				progress.event("stealer: " + ev.Reason)
			}
		}
	}
	if f.events != "" {
		cfg.Events = runner.NewEventBus()
		ew, err := startEvents(ctx, f.events, state != nil, cfg.Events)
		if err != nil {
			return err
		}
		defer func() {
			if serr := ew.stop(); err == nil && serr != nil {
				err = serr
			}
		}()
	}
	r, err := runner.New(cfg, state)
	if err != nil {
		return err
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err = <-done:
		case <-tick.C:
			p := r.Progress()
			if watch != nil {
				watch.ready(p.Ready)
			}
			if !f.quiet {
				progress.show(time.Now(), p)
			}
			continue
		}
		break
	}
	if !f.quiet {
		progress.end()
	}
	if watch != nil {
		if line := watch.report(f.workers, primary, f.quiet); line != "" {
			fmt.Fprintln(stderr, line)
		}
	}
	s := r.State()
	if err != nil && ctx.Err() != nil {
		if ierr := asInterrupt(ctx, err, statePath(store)); ierr != err {
			interruptedRun = true
			return ierr
		}
	}
	if err != nil {
		return fmt.Errorf("run %s failed (state: %s): %w", shortID(s.ID.Encoded()), statePath(store), err)
	}
	return summarize(ctx, stdout, s, repo, f.outputs, time.Since(start))
}

// progressEvery is how often at most the progress line is printed again
// when stderr is not a terminal (and only when it changed).
const progressEvery = 5 * time.Second

// progressLine shows a run's progress on w: on a terminal, one line
// rewritten in place (\r); otherwise plain lines, a new one when the
// progress changed and every has passed since the last, so that a log
// file or a pipe reads line by line.
type progressLine struct {
	w     io.Writer
	tty   bool
	every time.Duration

	// latest is the last progress shown or not; printed the last one
	// printed, at printedAt (not a terminal).
	latest, printed string
	printedAt       time.Time
}

// show updates the line with p, as of now.
func (l *progressLine) show(now time.Time, p runner.Progress) {
	text := fmt.Sprintf("tasks: %d done, %d cached, %d running, %d waiting", p.Done, p.Cached, p.Running, p.Ready+p.Waiting)
	l.latest = text
	if l.tty {
		fmt.Fprintf(l.w, "\r%s ", text)
		return
	}
	if text == l.printed || (!l.printedAt.IsZero() && now.Sub(l.printedAt) < l.every) {
		return
	}
	l.printed, l.printedAt = text, now
	fmt.Fprintln(l.w, text)
}

// event prints a line of its own, such as the stealer's decisions. It
// may be called from any goroutine: it uses only w, which must be safe for
// concurrent use, and tty.
func (l *progressLine) event(line string) {
	if l.tty {
		fmt.Fprintf(l.w, "\r%s\n", line)
		return
	}
	fmt.Fprintln(l.w, line)
}

// end ends the line: on a terminal, a newline after it; otherwise the
// latest progress, unless it was printed already.
func (l *progressLine) end() {
	if l.tty {
		fmt.Fprintln(l.w)
		return
	}
	if l.latest != "" && l.latest != l.printed {
		l.printed = l.latest
		fmt.Fprintln(l.w, l.latest)
	}
}

// closeTimeout bounds how long ebb run and resume wait for the local pool
// to kill and reap its execs on the way out, interrupted or not.
const closeTimeout = 30 * time.Second

// closeBounded closes c, giving it d even when ctx is already done (an
// interrupted run still kills its execs), and no more.
func closeBounded(ctx context.Context, c interface{ Close(context.Context) error }, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d)
	defer cancel()
	return c.Close(ctx)
}

func summarize(ctx context.Context, w io.Writer, s runner.State, repo *repository.Dir, outDir string, wall time.Duration) error {
	res := s.Result
	if res == nil {
		// runner.New refuses a done State without one; summarize must
		// not panic on any State all the same.
		return fmt.Errorf("run %s ended in phase %s without a result: %w", shortID(s.ID.Encoded()), s.Phase, ebb.ErrInvalid)
	}
	fmt.Fprintf(w, "run %s done in %v: %d tasks, %d run, %d from the cache, %d not needed\n",
		shortID(s.ID.Encoded()), wall.Round(time.Millisecond), res.Tasks, res.Ran, res.Cached, res.Skipped)
	fmt.Fprintf(w, "allocs taken: %d; held: %s (resource-minutes)\n", s.Allocs, s.TotalResources)
	names := make([]string, 0, len(res.Outputs))
	for name := range res.Outputs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		d := res.Outputs[name]
		fmt.Fprintf(w, "  %s  %s\n", d, name)
		if outDir == "" {
			continue
		}
		// The name comes from the State: a file anyone may have edited.
		rel := filepath.FromSlash(name)
		if !filepath.IsLocal(rel) {
			return fmt.Errorf("output %q: not a path inside the outputs directory %s: %w", name, outDir, ebb.ErrInvalid)
		}
		path := filepath.Join(outDir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		os.Remove(path)
		if err := repo.GetFile(ctx, d, path); err != nil {
			return fmt.Errorf("output %s: %w", name, err)
		}
	}
	return nil
}

func shortID(hex string) string {
	if len(hex) > 12 {
		return hex[:12]
	}
	return hex
}

func statePath(s runner.StateStore) string {
	if fs, ok := s.(runner.FileStore); ok {
		return fs.Path
	}
	return "not saved"
}

// flowOf returns the flow file a state was made for: the run's first
// argument.
func flowOf(s *runner.State) (string, error) {
	if s.Program != "ebb run" || len(s.Args) != 1 || strings.TrimSpace(s.Args[0]) == "" {
		return "", fmt.Errorf("state of run %s was not made by ebb run (program %q): resume it with the program that made it: %w",
			shortID(s.ID.Encoded()), s.Program, errUsage)
	}
	return s.Args[0], nil
}

// lockedWriter serializes the writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// runPolicy returns the stealer's policy that spec names: the default
// policy, with knobs as ebb sim's -policy takes them (stealer.DefaultConfig
// fields), its LatencyPrior the given latency unless a knob sets it.
func runPolicy(spec string, latency time.Duration) (stealer.Policy, error) {
	name, knobs, _ := strings.Cut(spec, ":")
	if strings.TrimSpace(name) != "default" {
		return nil, fmt.Errorf("-policy %q: ebb run takes the default policy, with knobs (the others are baselines for ebb sim): %w", spec, ebb.ErrInvalid)
	}
	full := "default"
	if latency > 0 {
		full += ":LatencyPrior=" + latency.String()
	}
	if knobs != "" {
		full += ":" + knobs
	}
	ps, err := sim.ParsePolicy(full)
	if err != nil {
		return nil, fmt.Errorf("-policy: %w", err)
	}
	return ps.New(sim.Cluster{})
}
