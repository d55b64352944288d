package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/internal/backoff"
	"github.com/ebbflow/ebb/internal/regfile"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository"
	"github.com/ebbflow/ebb/tracing"
	"github.com/grailbio/base/status"
	"github.com/opencontainers/go-digest"
)

// Config configures a Runner. Flow and Cluster are required; the rest have
// defaults.
type Config struct {
	// Flow is what to run. It must not change while the Runner uses it.
	Flow *ebb.Flow
	// Cluster gives the run its primary alloc.
	Cluster cluster.Cluster
	// Repository stores the flow's files: the local files its inputs name,
	// and every task's outputs. Required when the flow has any.
	Repository repository.Store
	// Cache, when set, maps task digests to results: tasks found there
	// are not run again, in this run or a later one. A Cache with a
	// Sync(ctx) error method (repository.BatchCache) is synced before
	// every save of the State.
	Cache repository.Cache
	// Store, when set, receives the State after every step of Run, and
	// whenever an auxiliary alloc is taken or given back.
	Store StateStore

	// Aux, when set, makes the run elastic: a stealer acquires auxiliary
	// allocs from Aux while ready work exceeds what the run holds, has
	// the ready tasks stolen onto them, and gives them back once they are
	// idle. Aux may be the same cluster as Cluster (the local pool, where
	// auxiliary allocs are carved from what the primary left free) or
	// another (a Slurm or Kubernetes cluster beside a local primary).
	Aux cluster.Cluster
	// Steal configures that stealer.
	Steal StealConfig

	// Program, Params and Args describe the run for people and for its ID.
	Program string
	Params  map[string]string
	Args    []string
	// Command is recorded in the State as State.Command: what the
	// program needs to resume the run as it was started. Given with a
	// State to resume, a non-nil Command replaces the one it holds.
	Command json.RawMessage
	// Labels travel with every alloc the run takes, beside the run's own
	// (ebb-run, ebb-program).
	Labels ebb.Labels

	// Primary is what the primary alloc is asked for. Default: the flow's
	// widest need (Graph.Requirements): its largest task, as many times
	// over as tasks can run at once.
	Primary ebb.Requirements
	// MaxTries caps how many times Eval is tried when the primary is lost
	// or a transient error stops it. Default 3.
	MaxTries int
	// RetryMinWait and RetryMaxWait pace the tries: the first retry waits
	// RetryMinWait, each next twice as long, up to RetryMaxWait. Defaults
	// 1 s and 1 min.
	RetryMinWait, RetryMaxWait time.Duration
	// Retain is how long the primary is kept after the run failed, so a
	// person can look at it. Default 0: freed at once.
	Retain time.Duration
	// Keepalive configures the renewal of every alloc's lease.
	Keepalive pool.KeepaliveConfig
	// MaxExecs caps the tasks running at once on one alloc (see
	// EvalConfig.MaxExecs).
	MaxExecs int
	// FreeTimeout bounds the freeing of allocs when a run ends, even a
	// cancelled one. Default 1 min.
	FreeTimeout time.Duration
	// Logger receives the run's progress and problems. Default: discard.
	Logger *slog.Logger
	// Tracing records the run and its tasks as OpenTelemetry spans and
	// metrics. The zero value records nothing. To trace allocations too,
	// wrap the Cluster with tracing.Wrap.
	Tracing tracing.Config
	// Events, when set, receives the events of the run's tasks and its
	// stealer's decisions, in one stream (see EventKind). A subscriber
	// that falls behind loses events and is told how many; the run never
	// waits for it.
	Events *EventBus
	// Status, when set, shows the run as it goes, for people: what it
	// waits for, then its Progress, with a task for each task running
	// (see EvalConfig.Status). To show the stealer's and the cluster's
	// too, give them groups of the same status.Status (StealConfig.Status,
	// cluster.ElasticConfig.Status).
	Status *status.Group
}

// A Runner drives one run of a flow through its phases, Init → Eval →
// (Retry → Init …) → Done, one step per Do call, so that its caller can
// persist the State between steps and a new process can resume from it.
//
// A Runner is not safe for concurrent use, except for State and Progress,
// which may be called from any goroutine while Do or Run is under way.
type Runner struct {
	cfg     Config
	runs    *tracing.Runs
	graph   *ebb.Graph
	digests []digest.Digest
	paths   map[string]digest.Digest

	saving  chan struct{} // capacity 1: held by the save in progress
	mu      sync.Mutex    // guards state, eval and err
	state   State
	eval    *Eval
	err     error // why the run failed, as an error value
	primary pool.Alloc
	aux     []pool.Alloc // re-attached auxiliary allocs, for the next stealer
	// attached names the re-attached alloc where each exec found on one
	// lives, by task digest, for the next eval (EvalConfig.Attached).
	attached map[digest.Digest]string
	// ranBefore marks the tasks that succeeded in earlier tries of this
	// run, made by the first try that did not finish: a later try finds
	// them in the cache, and they count as run, not cached.
	ranBefore []bool
}

// New returns a Runner for cfg. With a nil state it starts a new run; given
// the State of an earlier Runner (from a StateStore), it resumes that run:
// the primary alloc is re-attached while it is still alive, tasks in the
// cache are not run again, and a task still running on a live alloc is
// waited for rather than started twice.
//
// New validates the flow and hashes the local files it names; it fails
// with an error wrapping ebb.ErrInvalid on a bad flow or config, or when
// the state belongs to another flow or parameters.
func New(cfg Config, state *State) (*Runner, error) {
	if cfg.Flow == nil || cfg.Cluster == nil {
		return nil, fmt.Errorf("runner: Flow and Cluster are required: %w", ebb.ErrInvalid)
	}
	if err := cfg.Primary.Validate(); err != nil {
		return nil, fmt.Errorf("runner: primary: %w", err)
	}
	if err := cfg.Labels.Validate(); err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	cfg.setDefaults()
	g, err := cfg.Flow.Graph()
	if err != nil {
		return nil, err
	}
	if cfg.Repository == nil && needsRepository(cfg.Flow) {
		return nil, fmt.Errorf("runner: flow %q has files but no Repository is set: %w", cfg.Flow.Name, ebb.ErrInvalid)
	}
	paths, err := hashPaths(cfg.Flow.Paths())
	if err != nil {
		return nil, err
	}
	digests, err := g.Digests(paths)
	if err != nil {
		return nil, err
	}
	r := &Runner{cfg: cfg, runs: tracing.NewRuns(cfg.Tracing), graph: g, digests: digests, paths: paths, saving: make(chan struct{}, 1)}
	id := r.runID()
	switch {
	case state == nil:
		r.state = State{
			Version: StateVersion, ID: id,
			Program: cfg.Program, Params: maps.Clone(cfg.Params), Args: slices.Clone(cfg.Args),
			Command: slices.Clone(cfg.Command),
			Phase:   PhaseInit, Created: time.Now(),
		}
	case state.ID != id:
		return nil, fmt.Errorf("runner: state of run %s does not match this flow and its parameters (run %s): %w", state.ID, id, ebb.ErrInvalid)
	default:
		if err := state.Validate(); err != nil {
			return nil, err
		}
		r.state = *state
		r.state.Aux = slices.Clone(state.Aux)
		r.state.ErrKinds = slices.Clone(state.ErrKinds)
		r.state.Command = slices.Clone(state.Command)
		if cfg.Command != nil {
			r.state.Command = slices.Clone(cfg.Command)
		}
	}
	return r, nil
}

func (cfg *Config) setDefaults() {
	if cfg.MaxTries <= 0 {
		cfg.MaxTries = 3
	}
	if cfg.RetryMinWait <= 0 {
		cfg.RetryMinWait = time.Second
	}
	if cfg.RetryMaxWait < cfg.RetryMinWait {
		cfg.RetryMaxWait = max(cfg.RetryMinWait, time.Minute)
	}
	if cfg.FreeTimeout <= 0 {
		cfg.FreeTimeout = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
}

func needsRepository(f *ebb.Flow) bool {
	for i := range f.Tasks {
		if len(f.Tasks[i].Inputs) > 0 || len(f.Tasks[i].Outputs) > 0 {
			return true
		}
	}
	return false
}

// hashPaths returns the digest of each local file's content.
func hashPaths(paths []string) (map[string]digest.Digest, error) {
	out := make(map[string]digest.Digest, len(paths))
	for _, p := range paths {
		// Never a blocking open, and never a file that does not end
		// (a FIFO, /dev/zero): only regular files are inputs.
		f, err := regfile.Open(p)
		if err != nil {
			return nil, fmt.Errorf("runner: input file: %v: %w", err, ebb.ErrInvalid)
		}
		d, err := digest.SHA256.FromReader(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("runner: input file %s: %w", p, err)
		}
		out[p] = d
	}
	return out, nil
}

// runID is the digest of the flow's task digests and the run's parameters.
func (r *Runner) runID() digest.Digest {
	d := ebb.NewDigester()
	d.WriteString("ebb.run/v1")
	d.WriteString(r.cfg.Program)
	keys := slices.Sorted(maps.Keys(r.cfg.Params))
	d.WriteStrings(keys)
	for _, k := range keys {
		d.WriteString(r.cfg.Params[k])
	}
	d.WriteStrings(r.cfg.Args)
	for _, t := range r.digests {
		d.WriteDigest(t)
	}
	return d.Digest()
}

// State returns a copy of the run's State.
func (r *Runner) State() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.state
	s.Aux = slices.Clone(s.Aux)
	s.ErrKinds = slices.Clone(s.ErrKinds)
	s.Command = slices.Clone(s.Command)
	if s.Primary != nil {
		p := *s.Primary
		s.Primary = &p
	}
	s.TotalResources = s.TotalResources.Clone()
	return s
}

// Progress returns the task counts of the eval under way, or of the last
// one.
func (r *Runner) Progress() Progress {
	r.mu.Lock()
	e := r.eval
	r.mu.Unlock()
	if e == nil {
		return Progress{Tasks: len(r.cfg.Flow.Tasks)}
	}
	return e.Progress()
}

// Err returns why the run failed, once it is Done; nil if it succeeded.
func (r *Runner) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		return r.state.savedErr()
	}
	return r.err
}

// Do takes one step of the run and reports whether there are more. The run's
// own failure (a task failing for good, too many tries) is not an error of
// Do: the run moves to PhaseDone with State.Err set, and Err returns it. Do
// returns an error when the step could not be taken: ctx is done, or the
// State cannot be acted on. The State then still says where the run is, and
// the step can be tried again, by this Runner or by a new one given the
// State; Do frees no alloc on its way out, so that a resumed run finds
// them.
func (r *Runner) Do(ctx context.Context) (more bool, err error) {
	switch r.state.Phase {
	case PhaseInit:
		err = r.init(ctx)
	case PhaseEval:
		err = r.evaluate(ctx)
	case PhaseRetry:
		err = r.retry(ctx)
	case PhaseDone:
		err = r.finish(ctx)
	}
	r.accountHeld(time.Now())
	return r.state.Phase != PhaseDone || r.state.Primary != nil || len(r.state.Aux) > 0, err
}

// Run takes every step of the run, saving the State to Store (when set)
// before the first and after each, and returns the run's error (Err) once
// it is done. When ctx is done first, Run frees every alloc the run holds
// (within FreeTimeout), saves the State, and returns ctx's error: a
// cancelled run leaves nothing behind, and can still be resumed.
func (r *Runner) Run(ctx context.Context) (err error) {
	ctx, span := r.runs.StartRun(ctx, string(r.state.ID), r.cfg.Program)
	defer func() { span.End(err) }()
	if err := r.save(ctx); err != nil {
		return err
	}
	for {
		span.Phase(string(r.state.Phase))
		more, err := r.Do(ctx)
		if err != nil && ctx.Err() != nil {
			r.release(context.WithoutCancel(ctx))
		}
		if serr := r.save(context.WithoutCancel(ctx)); serr != nil && err == nil {
			err = serr
		}
		if err != nil {
			return err
		}
		if !more {
			return r.Err()
		}
	}
}

// A syncer is a cache that makes its entries durable in batches
// (repository.BatchCache): save syncs it first, so that a State on disk
// never runs ahead of the results it counts on, Result's outputs above all.
type syncer interface {
	Sync(ctx context.Context) error
}

func (r *Runner) save(ctx context.Context) error {
	if r.cfg.Store == nil {
		return nil
	}
	// One save at a time, each of the State as it is when its turn
	// comes: two stealer goroutines recording an alloc each must not
	// write their snapshots in the other order, which would leave an
	// alloc that tasks run on out of the State on disk.
	r.saving <- struct{}{}
	defer func() { <-r.saving }()
	if c, ok := r.cfg.Cache.(syncer); ok {
		if err := c.Sync(ctx); err != nil {
			r.cfg.Logger.Warn("cache entries not synced: a crash of the machine may lose them, and their tasks run again", "err", err)
		}
	}
	s := r.State()
	if err := r.cfg.Store.Save(ctx, &s); err != nil {
		return fmt.Errorf("runner: save state: %w", err)
	}
	return nil
}

func (r *Runner) labels() ebb.Labels {
	return r.cfg.Labels.Merge(ebb.Labels{
		"ebb-run":     r.state.ID.Encoded()[:16],
		"ebb-program": sanitizeLabel(r.cfg.Program),
	})
}

func sanitizeLabel(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c == 0x7f || c == ',' || c == '=' {
			b[i] = '_'
		}
	}
	if len(b) > 255 {
		b = b[:255]
	}
	return string(b)
}

// update changes the State under r.mu.
func (r *Runner) update(f func(s *State)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.state)
}

// fail ends the run with err, keeping what it holds for finish to free.
func (r *Runner) fail(err error) {
	r.cfg.Logger.Error("run failed", "run", r.state.ID, "err", err)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
	r.state.setErr(err)
	r.state.Phase = PhaseDone
	r.state.Completion = time.Now()
}

// retryLater moves the run to Retry after a transient failure.
func (r *Runner) retryLater(why error) {
	r.cfg.Logger.Warn("run interrupted; will retry", "run", r.state.ID, "try", r.state.NumTries, "err", why)
	r.update(func(s *State) {
		s.Phase = PhaseRetry
		s.setErr(why)
	})
}

func (r *Runner) retry(ctx context.Context) error {
	if r.state.NumTries >= r.cfg.MaxTries {
		err := fmt.Errorf("gave up after %d tries", r.state.NumTries)
		if why := r.state.savedErr(); why != nil {
			err = fmt.Errorf("%w: %w", err, why)
		}
		r.fail(err)
		return nil
	}
	policy := backoff.Policy{Min: r.cfg.RetryMinWait, Max: r.cfg.RetryMaxWait, Factor: 2, Jitter: 0.2}
	if err := policy.Sleep(ctx, max(0, r.state.NumTries-1)); err != nil {
		return err
	}
	r.update(func(s *State) {
		s.Phase = PhaseInit
		s.setErr(nil)
	})
	return nil
}

// accountHeld counts the resource-minutes of the allocs held, up to now.
func (r *Runner) accountHeld(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ref := range r.state.auxAndPrimary() {
		r.state.account(ref, now)
	}
}

// account adds ref's resource-minutes from ref.Since to until, and moves
// Since to until.
func (s *State) account(ref *AllocRef, until time.Time) {
	if ref.Since.IsZero() || !until.After(ref.Since) {
		return
	}
	minutes := until.Sub(ref.Since).Minutes()
	s.TotalResources = s.TotalResources.Add(ref.Inspect.Resources.Scale(minutes))
	ref.Since = until
}
