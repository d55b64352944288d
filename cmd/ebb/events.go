package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/runner"
)

// eventTime is how -events writes times: RFC 3339 in UTC, always with
// nine digits of fraction, so that lines sort as text.
const eventTime = "2006-01-02T15:04:05.000000000Z07:00"

// eventLine is one line of ebb run -events: a runner.Event as a JSON
// object. The field names are part of ebb's interface: add, never rename.
type eventLine struct {
	Time      string        `json:"time"`
	Kind      string        `json:"kind"`
	Task      string        `json:"task,omitempty"`
	Digest    string        `json:"digest,omitempty"`
	AllocID   string        `json:"alloc_id,omitempty"`
	Pool      string        `json:"pool,omitempty"`
	Try       *int          `json:"try,omitempty"`
	ExitCode  *int          `json:"exit_code,omitempty"`
	Error     string        `json:"error,omitempty"`
	Duration  *float64      `json:"duration_seconds,omitempty"`
	Resources ebb.Resources `json:"resources,omitempty"`
	Cached    *bool         `json:"cached,omitempty"`
	Dropped   int           `json:"dropped,omitempty"`
	// The stealer's events: its kind (requested, granted, ...), the
	// request, and the reason for people.
	Stealer   string `json:"stealer,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	Reason    string `json:"reason,omitempty"`
	// The workers' events (kind "worker"): what happened (launching, up,
	// launch_failed, adopted, lost, stopping, stopped, kept), to which
	// worker, of which shape, by which launch; pool is the cluster's ID.
	WorkerEvent string `json:"worker_event,omitempty"`
	Worker      string `json:"worker,omitempty"`
	Shape       string `json:"shape,omitempty"`
	Launch      int    `json:"launch,omitempty"`
	// Staging (kinds stage-in and stage-out): the bytes of the try's
	// inputs or outputs, and each one: its name, bytes, start, seconds
	// and where it came from or went (cache, peer, driver, repository).
	// duration_seconds spans them all.
	Bytes *int64      `json:"bytes,omitempty"`
	Files []stageFile `json:"files,omitempty"`
}

// stageFile is one input or output of a stage-in or stage-out line.
type stageFile struct {
	Name    string  `json:"name"`
	Bytes   int64   `json:"bytes"`
	Start   string  `json:"start"`
	Seconds float64 `json:"seconds"`
	Where   string  `json:"where,omitempty"`
}

func lineOf(ev runner.Event) eventLine {
	l := eventLine{
		Time: ev.Time.UTC().Format(eventTime), Kind: ev.Kind.String(),
		Task: ev.Task, Digest: string(ev.Digest), AllocID: ev.AllocID, Pool: ev.Pool,
		Error: ev.Error, Dropped: ev.Dropped,
	}
	switch ev.Kind {
	case runner.EventStarted, runner.EventRetried, runner.EventLost:
		l.Try = &ev.Try
	case runner.EventStageIn, runner.EventStageOut:
		secs := ev.Duration.Seconds()
		l.Try, l.Bytes, l.Duration = &ev.Try, &ev.Bytes, &secs
		for _, t := range ev.Transfers {
			l.Files = append(l.Files, stageFile{Name: t.Name, Bytes: t.Bytes, Start: t.Start.UTC().Format(eventTime),
				Seconds: t.Duration.Seconds(), Where: t.Where})
		}
	case runner.EventFinished:
		l.Cached = &ev.Cached
		if !ev.Cached {
			l.Try = &ev.Try
		}
	}
	if (ev.Kind == runner.EventFinished && !ev.Cached) || ev.Kind == runner.EventRetried {
		secs := ev.Duration.Seconds()
		l.ExitCode, l.Duration, l.Resources = &ev.ExitCode, &secs, ev.Resources
	}
	if w := ev.Worker; w != nil {
		l.WorkerEvent, l.Worker, l.Shape, l.Launch = w.Kind.String(), string(w.Worker), w.Shape, w.Launch
		l.Pool, l.Reason = w.Cluster, w.Reason
		if w.Err != nil {
			l.Error = w.Err.Error()
		}
	}
	if s := ev.Stealer; s != nil {
		l.Stealer, l.RequestID, l.Reason = s.Kind.String(), string(s.RequestID), s.Reason
		l.Resources = s.Resources
		if s.Err != nil {
			l.Error = s.Err.Error()
		}
	}
	return l
}

// eventWriter writes a run's events to a file, one JSON object a line,
// from a goroutine of its own that ends with the context it was started
// under or with stop.
type eventWriter struct {
	path  string
	f     *os.File
	w     *bufio.Writer
	sub   *runner.Subscription
	err   error // the first write error; owned by whoever pumps
	donec chan error
}

// eventBuffer is how many events the file may lag behind the run before
// some are dropped (and the file says how many).
const eventBuffer = 1 << 16

// startEvents subscribes to bus and writes its events to the file at
// path: truncated first, or appended to (a resumed run adds to the story
// of the run it resumes).
func startEvents(ctx context.Context, path string, appendTo bool, bus *runner.EventBus) (*eventWriter, error) {
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if appendTo {
		flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("-events: %w", err)
	}
	w := &eventWriter{path: path, f: f, w: bufio.NewWriter(f), sub: bus.Subscribe(eventBuffer), donec: make(chan error, 1)}
	go func() { w.donec <- w.pump(ctx) }()
	return w, nil
}

// pump writes events until the subscription is closed and empty (nil) or
// ctx is done (ctx's error).
func (w *eventWriter) pump(ctx context.Context) error {
	enc := json.NewEncoder(w.w)
	for {
		ev, err := w.sub.Next(ctx)
		if errors.Is(err, ebb.ErrClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := enc.Encode(lineOf(ev)); err != nil && w.err == nil {
			w.err = err
		}
		if w.sub.Pending() == 0 {
			// Caught up: let a reader of the file see where the run is.
			if err := w.w.Flush(); err != nil && w.err == nil {
				w.err = err
			}
		}
	}
}

// stop writes the events still buffered and closes the file. It returns
// the first error writing met.
func (w *eventWriter) stop() error {
	w.sub.Close()
	if err := <-w.donec; err != nil {
		// The run was interrupted: what it did up to then is still
		// written. The subscription is closed, so this does not wait.
		w.pump(context.Background())
	}
	err := w.err
	if ferr := w.w.Flush(); err == nil {
		err = ferr
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("-events %s: %w", w.path, err)
	}
	return nil
}
