package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/internal/atomicfile"
	"github.com/ebbflow/ebb/runner"
)

// workersFileName is the name of the workers record, beside the run's
// state file.
const workersFileName = "workers.json"

// workersEvery is how often a driver rewrites the workers record, beside
// the writes at every save of the State and every worker event.
const workersEvery = 5 * time.Second

// workersRecord is workers.json: the workers of a run that uses -workers,
// as the ebb run or resume driving it last saw them. The driver writes it
// beside the run's state file, atomically and readable by its owner only
// (0600), whenever it saves the State, when a worker comes or goes, and
// every workersEvery; it writes it a last time, with Live false, once its
// workers are stopped or kept. ebb workers reads it. The field names are
// part of ebb's interface: add, never rename.
type workersRecord struct {
	Version  int       `json:"version"`
	Run      string    `json:"run"`      // the run's ID
	Provider string    `json:"provider"` // procs, command or slurm
	Cluster  string    `json:"cluster"`  // the Elastic's ID
	Driver   int       `json:"driver_pid"`
	Updated  time.Time `json:"updated"`
	// Every is how often a live driver rewrites the record, in seconds:
	// a record much older than that was left by a driver that is gone.
	Every float64 `json:"every_seconds"`
	// Live is set while the driver runs; it is cleared when it ends.
	Live      bool           `json:"live"`
	Workers   []workerRecord `json:"workers"`
	Launching []string       `json:"launching,omitempty"` // the shapes of the launches in flight
	Waiting   int            `json:"waiting"`             // Allocate calls waiting for a worker
}

// workerRecord is one worker of a workersRecord.
type workerRecord struct {
	ID        string        `json:"id"`
	Shape     string        `json:"shape"`
	Resources ebb.Resources `json:"resources,omitempty"`
	Price     float64       `json:"price,omitempty"`
	// State is up, adopted (up, and taken over from an earlier driver),
	// stopping, kept (left running when the driver stopped, for ebb
	// resume to adopt), not_stopped (its termination failed when the
	// driver stopped: it may still run), or listed (the provider lists it but the driver
	// does not hold it: still starting, or a stray).
	State string `json:"state"`
	// LastBusy is when it last held an alloc (or came up).
	LastBusy time.Time `json:"last_busy,omitzero"`
	// Allocs counts the run's allocs on it, as the State says.
	Allocs int `json:"allocs"`
}

// workersRecorder writes a run's workers record. Its methods are safe for
// concurrent use.
type workersRecorder struct {
	path string
	log  *slog.Logger
	kick chan struct{} // capacity 1: write soon

	mu     sync.Mutex  // guards the fields below and the file
	wp     *workerPool // nil until start
	failed bool        // a write failed, and was logged
	run    string
	aux    []runner.AllocRef        // the State's, as last saved
	listed []cluster.Worker         // what the provider listed last
	done   bool                     // the last record is written
	kept   bool                     // the workers left are kept, not failed to stop
	shapes map[string]cluster.Shape // the provider's, by name
}

// newWorkersRecorder returns a recorder into the file beside statePath;
// it writes nothing until start.
func newWorkersRecorder(statePath string, log *slog.Logger) *workersRecorder {
	return &workersRecorder{path: filepath.Join(filepath.Dir(statePath), workersFileName), log: log,
		kick: make(chan struct{}, 1), shapes: make(map[string]cluster.Shape)}
}

// start records wp's workers from now on, and writes the record every
// workersEvery, asking the provider for its workers, and when changed
// is called, until the returned function is called; that function
// returns once the writing has stopped.
func (w *workersRecorder) start(ctx context.Context, wp *workerPool) (stop func()) {
	w.mu.Lock()
	w.wp = wp
	for _, s := range wp.provider.Shapes() {
		w.shapes[s.Name] = s
	}
	w.mu.Unlock()
	w.write(true)
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.loop(ctx, wp)
	}()
	return func() {
		cancel()
		<-done
	}
}

// loop writes the record every workersEvery and when kicked, until ctx
// is done.
func (w *workersRecorder) loop(ctx context.Context, wp *workerPool) {
	tick := time.NewTicker(workersEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			lctx, cancel := context.WithTimeout(ctx, workersEvery)
			listed, err := wp.provider.Workers(lctx)
			cancel()
			if err == nil {
				w.mu.Lock()
				w.listed = listed
				w.mu.Unlock()
			}
		case <-w.kick:
		}
		w.write(true)
	}
}

// changed asks for a write soon; it never blocks.
func (w *workersRecorder) changed() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// saved notes the State just saved, and writes the record.
func (w *workersRecorder) saved(s *runner.State) {
	w.mu.Lock()
	w.run = s.ID.Encoded()
	w.aux = append(w.aux[:0], s.Aux...)
	w.mu.Unlock()
	w.write(true)
}

// finish writes the last record, with Live cleared: call it once the
// workers are stopped, or kept (left running for ebb resume).
func (w *workersRecorder) finish(kept bool) error {
	w.mu.Lock()
	w.kept = kept
	w.mu.Unlock()
	err := w.write(false)
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
	return err
}

// write writes the record as things are now, once start has been
// called. A failure is logged once, and returned.
func (w *workersRecorder) write(live bool) error {
	w.mu.Lock()
	wp := w.wp
	w.mu.Unlock()
	if wp == nil {
		return nil
	}
	st := wp.elastic.Status()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return nil
	}
	rec := workersRecord{
		Version: 1, Run: w.run, Provider: wp.name, Cluster: wp.elastic.ID(), Driver: os.Getpid(),
		Updated: time.Now().UTC(), Every: workersEvery.Seconds(), Live: live, Waiting: st.Waiting,
		Workers: []workerRecord{},
	}
	allocs := allocsByWorker(w.aux)
	held := make(map[cluster.WorkerID]bool)
	for _, ws := range st.Workers {
		held[ws.ID] = true
		state := "up"
		switch {
		case ws.Terminating:
			state = "stopping"
		case !live && w.kept:
			state = "kept"
		case !live:
			state = "not_stopped"
		case ws.Adopted:
			state = "adopted"
		}
		sh := w.shapes[ws.Shape]
		rec.Workers = append(rec.Workers, workerRecord{ID: string(ws.ID), Shape: ws.Shape, Resources: sh.Resources, Price: sh.Price,
			State: state, LastBusy: ws.LastBusy.UTC(), Allocs: allocs[string(ws.ID)]})
	}
	if live {
		for _, lw := range w.listed {
			if !held[lw.ID] {
				rec.Workers = append(rec.Workers, workerRecord{ID: string(lw.ID), Shape: lw.Shape.Name, Resources: lw.Shape.Resources,
					Price: lw.Shape.Price, State: "listed", Allocs: allocs[string(lw.ID)]})
			}
		}
	}
	for _, l := range st.Launching {
		rec.Launching = append(rec.Launching, l.Shape)
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(w.path, append(b, '\n'), 0o600); err != nil {
		err = fmt.Errorf("workers record: %w", err)
		if !w.failed {
			w.failed = true
			w.log.Warn("ebb workers will not see this run's workers", "err", err)
		}
		return err
	}
	return nil
}

// allocsByWorker counts allocs by their worker: the part of an
// elastic cluster's alloc ID ("WORKER/ALLOC") before the slash.
func allocsByWorker(aux []runner.AllocRef) map[string]int {
	n := make(map[string]int)
	for _, a := range aux {
		if worker, _, ok := strings.Cut(a.ID, "/"); ok {
			n[worker]++
		}
	}
	return n
}

// recordingStore is a StateStore that has the workers record written
// after every save of the State, so that the allocs it counts are the
// State's.
type recordingStore struct {
	runner.StateStore
	rec *workersRecorder
}

func (s recordingStore) Save(ctx context.Context, st *runner.State) error {
	if err := s.StateStore.Save(ctx, st); err != nil {
		return err
	}
	s.rec.saved(st)
	return nil
}
