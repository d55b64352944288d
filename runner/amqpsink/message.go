package amqpsink

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/runner"
)

// A Message is one publication: its routing key and its JSON body.
type Message struct {
	Key  string
	Body Body
}

// Body is a message's JSON body. The field names follow HyperFlow's
// executors where they have one (type, timestamp, executor, job,
// exit_status, time, metrics, hostname) and ebb's events file otherwise;
// they are part of ebb's interface: add, never rename.
type Body struct {
	// Type is the routing key without the job's ID: job.started,
	// job.execution.finished, executor.ready, stealer.granted.
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"` // RFC 3339, UTC, nanoseconds
	Executor  string `json:"executor"`  // the sink's Config.Executor
	Seq       uint64 `json:"seq"`       // set by the sink: 1, 2, ...

	Job        string        `json:"job,omitempty"` // the task's name
	Digest     string        `json:"digest,omitempty"`
	AllocID    string        `json:"alloc_id,omitempty"`
	Pool       string        `json:"pool,omitempty"`
	Try        *int          `json:"try,omitempty"`
	ExitStatus *int          `json:"exit_status,omitempty"`
	Time       *float64      `json:"time,omitempty"` // how long the try ran, in seconds
	Error      string        `json:"error,omitempty"`
	Cached     bool          `json:"cached,omitempty"`
	Resources  ebb.Resources `json:"resources,omitempty"`
	Metrics    *Metrics      `json:"metrics,omitempty"`

	// stage-in.finished, stage-out.finished: the bytes staged, and
	// each file (Time is then the staging's seconds).
	Bytes *int64 `json:"bytes,omitempty"`
	Files []File `json:"files,omitempty"`

	Hostname  string `json:"hostname,omitempty"`   // executor.ready
	Dropped   int    `json:"dropped,omitempty"`    // events.dropped
	RequestID string `json:"request_id,omitempty"` // stealer.*
	Reason    string `json:"reason,omitempty"`     // stealer.*
}

// File is one input staged in or output staged out.
type File struct {
	Name  string  `json:"name"`
	Bytes int64   `json:"bytes"`
	Time  float64 `json:"time"`            // seconds
	Where string  `json:"where,omitempty"` // cache, peer, driver, repository
}

// Metrics are a finished job's figures, as job.{id}.finished carries them.
type Metrics struct {
	Executor  string        `json:"executor"`
	Execution float64       `json:"execution"` // seconds the try ran, staging included
	Tries     int           `json:"tries"`     // tries that failed before this one
	Resources ebb.Resources `json:"resources,omitempty"`
}

// timeFormat is how bodies write times: RFC 3339 in UTC with nine digits
// of fraction, so that they sort as text.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// maxID bounds a job's ID in a routing key (AMQP allows 255 bytes a key).
const maxID = 200

// JobID returns the routing-key word for a task's name: the name with
// ".", "*", "#" and white space replaced by "_", cut to 200 bytes at a
// character boundary.
func JobID(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r == '.' || r == '*' || r == '#' || unicode.IsSpace(r):
			r = '_'
		case r == utf8.RuneError:
			r = '_'
		}
		if b.Len()+utf8.RuneLen(r) > maxID {
			break
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// Messages returns what the sink publishes for ev, in order, with Seq
// unset: none, one, two or four messages (see the package's routing
// keys). executor is the ID that every body carries.
//
// A StageIn event makes stage-in.started and stage-in.finished, stamped
// with the staging's own start and end. A StageOut event makes nothing:
// the Finished or Retried after it carries its transfers and makes
// execution.finished, stage-out.started, stage-out.finished and
// finished, in HyperFlow's order.
func Messages(ev runner.Event, executor string) []Message {
	base := Body{Timestamp: ev.Time.UTC().Format(timeFormat), Executor: executor,
		Job: ev.Task, Digest: string(ev.Digest), AllocID: ev.AllocID, Pool: ev.Pool}
	job := func(what string, b Body) Message {
		b.Type = "job." + what
		return Message{Key: "job." + JobID(ev.Task) + "." + what, Body: b}
	}
	try := ev.Try
	// stage makes the started and finished messages of transfers.
	stage := func(what string, ts []pool.Transfer) []Message {
		bytes, d := pool.StagedBytes(ts)
		start := ts[0].Start
		for _, t := range ts {
			if t.Start.Before(start) {
				start = t.Start
			}
		}
		began := base
		began.Try, began.Timestamp = &try, start.UTC().Format(timeFormat)
		done := base
		secs := d.Seconds()
		done.Try, done.Timestamp, done.Bytes, done.Time = &try, start.Add(d).UTC().Format(timeFormat), &bytes, &secs
		for _, t := range ts {
			done.Files = append(done.Files, File{Name: t.Name, Bytes: t.Bytes, Time: t.Duration.Seconds(), Where: t.Where})
		}
		return []Message{job(what+".started", began), job(what+".finished", done)}
	}
	switch ev.Kind {
	case runner.EventStageIn:
		if len(ev.Transfers) == 0 {
			return nil
		}
		return stage("stage-in", ev.Transfers)
	case runner.EventStageOut:
		return nil // with the Finished or Retried that follows
	case runner.EventQueued:
		return []Message{job("queued", base)}
	case runner.EventStarted:
		b := base
		b.Try = &try
		return []Message{job("started", b)}
	case runner.EventFinished, runner.EventRetried:
		if ev.Cached {
			b := base
			b.Cached = true
			return []Message{job("finished", b)}
		}
		exit, secs := ev.ExitCode, ev.Duration.Seconds()
		exec := base
		exec.Try, exec.ExitStatus, exec.Time, exec.Error, exec.Resources = &try, &exit, &secs, ev.Error, ev.Resources
		end := base
		end.Try, end.ExitStatus, end.Error = &try, &exit, ev.Error
		msgs := []Message{job("execution.finished", exec)}
		if len(ev.StageOut) > 0 {
			msgs = append(msgs, stage("stage-out", ev.StageOut)...)
		}
		if ev.Kind == runner.EventRetried {
			return append(msgs, job("retried", end))
		}
		end.Metrics = &Metrics{Executor: executor, Execution: secs, Tries: try, Resources: ev.Resources}
		return append(msgs, job("finished", end))
	case runner.EventLost:
		b := base
		b.Try, b.Error = &try, ev.Error
		return []Message{job("lost", b)}
	case runner.EventTimedOut:
		b := base
		b.Try = &try
		return []Message{job("timed_out", b)}
	case runner.EventDropped:
		b := Body{Type: "events.dropped", Timestamp: base.Timestamp, Executor: executor, Dropped: ev.Dropped}
		return []Message{{Key: b.Type, Body: b}}
	case runner.EventStealer:
		s := ev.Stealer
		if s == nil {
			return nil
		}
		b := Body{Type: "stealer." + s.Kind.String(), Timestamp: base.Timestamp, Executor: executor,
			AllocID: s.AllocID, RequestID: string(s.RequestID), Reason: s.Reason, Resources: s.Resources}
		if s.Err != nil {
			b.Error = s.Err.Error()
		}
		return []Message{{Key: b.Type, Body: b}}
	}
	return nil
}

// ready is the executor.ready message a sink publishes first.
func ready(now time.Time, executor, hostname string) Message {
	b := Body{Type: "executor.ready", Timestamp: now.UTC().Format(timeFormat), Executor: executor, Hostname: hostname}
	return Message{Key: b.Type, Body: b}
}
