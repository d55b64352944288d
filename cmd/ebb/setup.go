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
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
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
	// primaryInProcess keeps the machine pool in the driver (see
	// machinePool).
	primaryInProcess bool
	// peers moves blobs between the workers of -workers directly.
	peers     bool
	log       logFlags
	ui        uiFlags
	telemetry telemetryFlags
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.dir, "dir", ".ebb", "where the repository, cache and pool live")
	fs.Var(&f.resources, "resources", "what the local pool may hand out, as cpu=4,mem=8GiB (default: the whole machine)")
	fs.Var(&f.primary, "primary", "the primary alloc's size, as cpu=1,mem=1GiB (default: the flow's widest need)")
	fs.BoolVar(&f.elastic, "elastic", true, "take auxiliary allocs while work waits: from the rest of the machine, or from -workers")
	fs.StringVar(&f.workers, "workers", "", "take auxiliary allocs from workers: `procs` (ebb worker processes on this machine, within what -resources leaves beside the primary) or a workers file (YAML or JSON, as examples/workers.yaml)")
	fs.StringVar(&f.outputs, "outputs", "", "copy the outputs of the flow's last tasks into this directory")
	fs.BoolVar(&f.quiet, "quiet", false, "print only the summary")
	fs.StringVar(&f.events, "events", "", "write the run's events (tasks queued, started, staged in and out, finished, retried, lost; the stealer's decisions) to `FILE`, one JSON object a line; ebb resume appends")
	fs.BoolVar(&f.primaryInProcess, "primary-in-process", false, "serve the local pool (the primary alloc, and without -workers the auxiliary ones) inside ebb instead of from an ebb worker process it starts: a run starts a little faster, but a crash of ebb (SIGKILL, out of memory) kills the tasks running there, and ebb resume runs them again, even those that had just ended; by default the worker outlives a crash by its leases and ebb resume adopts it and its tasks")
	fs.BoolVar(&f.keepWorkers, "keep-workers", false, "when interrupted, leave the workers of -workers running for ebb resume to adopt, as it adopts those of a driver that crashed (each provider keeps a record of its workers under -dir, mode 0600); by default they are stopped")
	fs.BoolVar(&f.peers, "peers", true, "with -workers whose workers fetch their blobs from ebb (command, slurm, kube): each worker keeps a blob cache and serves what it made to the others, which fetch it from there; only the outputs of the flow's last tasks come back to ebb, those a task on the local pool needs are copied to ebb before it starts, and those tasks still to run need are copied from a worker before it is given back. -peers=false stages every blob through ebb")
	f.log.register(fs, slog.LevelWarn)
	f.ui.register(fs)
	f.telemetry.register(fs)
	fs.StringVar(&f.policy, "policy", "default", "the stealer's policy: `default`, with knobs as in ebb sim, as default:MaxRequest=cpu=8,mem=32GiB:MaxAllocs=16 (the fields of stealer.DefaultConfig)")
}

// execute runs (or resumes, given state) flow on this machine, showing
// progress on stderr and the summary on stdout.
func execute(ctx context.Context, f runFlags, flow *ebb.Flow, flowPath string, store runner.StateStore, state *runner.State, stdout, stderr io.Writer) (err error) {
	// The stealer's and the workers' events, the progress and the log
	// all go to stderr, from several goroutines, through the progress's
	// view, which keeps them above the status.
	tty := isTerminal(stderr)
	stderr = &lockedWriter{w: stderr}
	progress := startProgress(ctx, stderr, tty, f.quiet)
	defer progress.stop()
	stderr = progress.w
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
	dirCache, err := repository.OpenCache(filepath.Join(f.dir, "repository"))
	if err != nil {
		return err
	}
	// Results are synced in batches, not a task at a time; the runner
	// syncs them before it saves the State, and Close the rest.
	cache := repository.NewBatchCache(dirCache, repository.BatchConfig{})
	defer func() {
		if cerr := cache.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("cache: %w", cerr)
		}
	}()
	// With peer transfers the run's repository locates the blobs the
	// workers keep; the primary's pool and the runner read through it.
	var poolRepo repository.Store = repo
	var peers *peerTransfer
	if f.elastic && f.workers != "" {
		if peers, err = newPeerTransfer(f.dir, repo, !f.peers); err != nil {
			return err
		}
		defer func() {
			if !f.quiet {
				fmt.Fprintln(stderr, "ebb: "+peers.summary())
			}
			peers.close()
		}()
		if f.peers {
			poolRepo = peers.located
		}
	}
	mp, err := f.startMachine(ctx, statePath(store), repo, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := mp.stop(); err != nil {
			fmt.Fprintf(stderr, "ebb: %v\n", err)
		}
	}()
	machine := mp.pool
	c := cluster.NewStatic(machine)
	cfg := runner.Config{
		Flow: flow, Cluster: c, Repository: poolRepo, Cache: cache, Store: store,
		Program: "ebb run", Args: []string{flowPath},
		Primary: ebb.Requirements{Min: f.primary}, Logger: log,
		Status: progress.group("run"),
	}
	if f.events != "" || f.ui.addr != "" || f.telemetry.amqp != "" {
		cfg.Events = runner.NewEventBus()
	}
	if cfg.Command, err = f.record(); err != nil {
		return err
	}
	// The events file is written until the workers have stopped, so
	// that their stops are in it.
	if f.events != "" {
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
	// interruptedRun says a signal interrupted the run: then
	// -keep-workers leaves the workers running.
	interruptedRun := false
	// watch follows the workers of -workers, to say why none was
	// launched; primary is the primary alloc's expected size.
	var watch *auxWatch
	var primary ebb.Resources
	// Allocations on this machine are immediate.
	latency := 10 * time.Millisecond
	if f.elastic {
		cfg.Aux = c
		if f.workers != "" {
			rec := newWorkersRecorder(statePath(store), log)
			bus := cfg.Events
			hooks := elasticHooks{peers: peers, status: progress.group("workers"), onWorker: func(ev cluster.WorkerEvent) {
				bus.Worker(ev)
				progress.event(ev.String())
				rec.changed()
			}}
			wp, grant, err := f.startWorkers(ctx, statePath(store), machine, repo, flow, log, stderr, hooks)
			if err != nil {
				return err
			}
			cfg.Aux = nil
			if wp != nil {
				stopRecording := rec.start(ctx, wp)
				cfg.Store = recordingStore{StateStore: store, rec: rec}
				defer func() {
					keep := f.keepWorkers && interruptedRun
					serr := wp.stop(keep)
					stopRecording()
					rec.finish(keep)
					if !keep {
						serr = errors.Join(serr, peers.forgetHolders())
					}
					if err == nil && serr != nil {
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
		cfg.Steal = runner.StealConfig{Policy: policy, Status: progress.group("stealer")}
		cfg.Steal.OnEvent = func(ev stealer.Event) {
			if watch != nil {
				watch.event(ev)
			}
			progress.event("stealer: " + ev.Reason)
		}
	}
	stopTelemetry, err := startTelemetry(ctx, f.telemetry, &cfg, f.quiet, stderr)
	if err != nil {
		return err
	}
	defer stopTelemetry()
	r, err := runner.New(cfg, state)
	if err != nil {
		return err
	}
	if f.ui.addr != "" {
		ui, err := startUI(ctx, f.ui, r, cfg, f.workers, stderr)
		if err != nil {
			return err
		}
		defer func() {
			if serr := ui.stop(); err == nil && serr != nil {
				err = serr
			}
		}()
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
			if watch != nil {
				watch.ready(r.Progress().Ready)
			}
			continue
		}
		break
	}
	progress.stop()
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
