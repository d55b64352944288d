package runner

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/stealer"
	"github.com/grailbio/base/status"
	"github.com/opencontainers/go-digest"
)

// StealConfig configures the stealer of an elastic run (see
// Config.Aux): the settings of a stealer.Config that are the caller's.
// The rest (where allocs come from, their labels, the allocs a resumed
// run takes over, and what happens when one is taken or given back) are
// the runner's own. Every zero field takes the stealer's default.
type StealConfig struct {
	// Policy decides what to buy, cancel and drain. Default: the
	// stealer's Default policy.
	Policy stealer.Policy
	// Tick, MaxPending, FreeTimeout, RetryMinWait and RetryMaxWait are
	// as in stealer.Config.
	Tick, FreeTimeout, RetryMinWait, RetryMaxWait time.Duration
	MaxPending                                    int
	// OnEvent, when set, receives every decision of the stealer with its
	// reason (see stealer.Config.OnEvent).
	OnEvent func(stealer.Event)
	// Status, when set, shows the stealer's allocs and requests (see
	// stealer.Config.Status).
	Status *status.Group
	// Logger receives the stealer's events as records. Default: the
	// run's Logger.
	Logger *slog.Logger
}

var (
	_ stealer.Evaluator          = (*Eval)(nil)
	_ stealer.DurationEstimator  = (*Eval)(nil)
	_ stealer.RemainingEstimator = (*Eval)(nil)
	_ stealer.UpcomingEstimator  = (*Eval)(nil)
	_ stealer.CriticalEstimator  = (*Eval)(nil)
)

// stealer returns the stealer of an elastic run, or nil, starting from
// what an earlier run's stealer learned of the cluster.
func (r *Runner) stealer(learned stealer.Learned) (*stealer.Stealer, error) {
	if r.cfg.Aux == nil {
		return nil, nil
	}
	sc := r.cfg.Steal
	cfg := stealer.Config{
		Cluster:      r.cfg.Aux,
		Policy:       sc.Policy,
		Tick:         sc.Tick,
		MaxPending:   sc.MaxPending,
		FreeTimeout:  sc.FreeTimeout,
		RetryMinWait: sc.RetryMinWait,
		RetryMaxWait: sc.RetryMaxWait,
		OnEvent:      r.onStealerEvent,
		Status:       sc.Status,
		Logger:       cmp.Or(sc.Logger, r.cfg.Logger),
		Labels:       r.labels(),
		OnAcquire:    r.acquired,
		OnRelease:    r.released,
		Learned:      learned,
	}
	cfg.Allocs, r.aux = r.aux, nil
	return stealer.New(cfg)
}

// work runs the eval on the primary and the stealer s, if any, beside it,
// until the eval is done, ctx is done, or the primary is lost. It returns
// what the primary's Work returned, once the stealer has given back every
// auxiliary alloc.
func (r *Runner) work(ctx context.Context, e *Eval, s *stealer.Stealer) error {
	if s == nil {
		return e.work(ctx, r.primary, true, nil)
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	// The stealer starts once the primary is one of the eval's allocs:
	// before, it would see the ready tasks and no capacity to run them,
	// and buy what the primary is about to run.
	err := e.work(ctx, r.primary, true, func() {
		wg.Go(func() {
			if err := s.Run(sctx, e); err != nil && sctx.Err() == nil {
				r.cfg.Logger.Warn("stealer stopped", "err", err)
			}
		})
	})
	// The eval is done, or the primary is gone: either way the stealer's
	// allocs go back.
	stop()
	return err
}

// onStealerEvent hands a stealer's event to StealConfig.OnEvent and to
// the run's Events.
func (r *Runner) onStealerEvent(ev stealer.Event) {
	if r.cfg.Steal.OnEvent != nil {
		r.cfg.Steal.OnEvent(ev)
	}
	r.cfg.Events.stealerEvent(ev)
}

// acquired records an auxiliary alloc in the State, and saves it, before
// any task runs there: a driver that crashes finds it again.
func (r *Runner) acquired(ctx context.Context, a pool.Alloc) error {
	ref := refOf(ctx, a)
	r.update(func(s *State) {
		s.Aux = append(s.Aux, ref)
		s.Allocs++
	})
	return r.save(ctx)
}

// released forgets an auxiliary alloc the stealer has freed.
func (r *Runner) released(ctx context.Context, id string) {
	r.mu.Lock()
	e := r.eval
	r.mu.Unlock()
	if e != nil {
		e.Detach(id)
	}
	r.update(func(s *State) { s.dropAux(id, time.Now()) })
	if err := r.save(ctx); err != nil {
		r.cfg.Logger.Warn("save state", "err", err)
	}
}

// dropAux counts an auxiliary alloc's resource-minutes up to until and
// removes it from the State.
func (s *State) dropAux(id string, until time.Time) {
	i := slices.IndexFunc(s.Aux, func(a AllocRef) bool { return a.ID == id })
	if i < 0 {
		return
	}
	s.account(&s.Aux[i], until)
	s.Aux = slices.Delete(s.Aux, i, i+1)
}

func (r *Runner) auxCluster() cluster.Cluster {
	if r.cfg.Aux != nil {
		return r.cfg.Aux
	}
	return r.cfg.Cluster
}

// reattachAux takes back the auxiliary allocs recorded in the State that
// still live, for the next stealer to work and free; without a stealer
// they are freed. The dead ones are forgotten.
//
// An auxiliary cluster that adopts the workers of an earlier driver
// (cluster.Elastic's Ready) is waited for first, so that their allocs are
// found. The execs found on a re-attached alloc are noted, so that their
// tasks run there again and nowhere else (see EvalConfig.Attached).
func (r *Runner) reattachAux(ctx context.Context) {
	if len(r.state.Aux) > 0 {
		if rc, ok := r.auxCluster().(readier); ok {
			if err := rc.Ready(ctx); err != nil {
				r.cfg.Logger.Warn("auxiliary cluster not ready", "err", err)
			}
		}
	}
	for _, ref := range slices.Clone(r.state.Aux) {
		if slices.ContainsFunc(r.aux, func(a pool.Alloc) bool { return a.ID() == ref.ID }) {
			continue
		}
		a, err := r.takeBack(ctx, r.auxCluster(), ref.ID)
		switch {
		case err == nil && r.cfg.Aux != nil:
			r.aux = append(r.aux, a)
			r.noteExecs(ctx, a)
			r.cfg.Logger.Info("re-attached auxiliary alloc", "alloc", ref.ID)
			continue
		case err == nil:
			if err := a.Free(ctx); err != nil && !errors.Is(err, ebb.ErrExpired) {
				r.cfg.Logger.Warn("free auxiliary alloc", "alloc", ref.ID, "err", err)
			}
		case ctx.Err() != nil:
			return
		default:
			r.cfg.Logger.Info("auxiliary alloc of the earlier driver is gone", "alloc", ref.ID, "err", err)
		}
		r.update(func(s *State) { s.dropAux(ref.ID, minTime(time.Now(), ref.Inspect.Expires)) })
	}
}

// readier is a cluster that adopts what an earlier driver left before it
// answers for it (cluster.Elastic).
type readier interface {
	Ready(ctx context.Context) error
}

// noteExecs records the execs found on a re-attached alloc a, by task
// digest, for the next eval to run their tasks there.
func (r *Runner) noteExecs(ctx context.Context, a pool.Alloc) {
	xs, err := a.Execs(ctx)
	if err != nil {
		r.cfg.Logger.Warn("listing the execs of a re-attached alloc", "alloc", a.ID(), "err", err)
		return
	}
	if r.attached == nil && len(xs) > 0 {
		r.attached = make(map[digest.Digest]string)
	}
	for _, x := range xs {
		r.attached[x.ID()] = a.ID()
	}
}

// freeAux frees every auxiliary alloc the run still holds.
func (r *Runner) freeAux(ctx context.Context) {
	for _, a := range r.aux {
		if err := a.Free(ctx); err != nil && !errors.Is(err, ebb.ErrExpired) {
			r.cfg.Logger.Warn("free auxiliary alloc", "alloc", a.ID(), "err", err)
		}
		r.update(func(s *State) { s.dropAux(a.ID(), time.Now()) })
	}
	r.aux = nil
	for _, ref := range slices.Clone(r.state.Aux) {
		if a, err := r.auxCluster().Alloc(ctx, ref.ID); err == nil {
			if err := a.Free(ctx); err != nil && !errors.Is(err, ebb.ErrExpired) {
				r.cfg.Logger.Warn("free auxiliary alloc", "alloc", ref.ID, "err", err)
			}
		}
		r.update(func(s *State) { s.dropAux(ref.ID, time.Now()) })
	}
}

// refOf describes a newly held alloc for the State.
func refOf(ctx context.Context, a pool.Alloc) AllocRef {
	inspect, err := a.Inspect(ctx)
	if err != nil {
		inspect = pool.AllocInspect{ID: a.ID(), Pool: a.Pool().ID(), Resources: a.Resources()}
	}
	return AllocRef{Pool: a.Pool().ID(), ID: a.ID(), Inspect: inspect, Since: time.Now()}
}
