package tracing

import (
	"context"
	"strconv"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

// Runs records runs and their tasks as spans, and tasks as metrics, for a
// runner that knows nothing of OpenTelemetry: it calls StartRun when a run
// starts in this process and StartTask around each task it runs, and ends
// what they return.
//
// A nil *Runs, and one made from a zero Config, record nothing and cost
// nothing: no allocation, no time.Now (see BenchmarkStartTask). A Runs is
// safe for concurrent use; its fields are set by NewRuns and never written
// after.
type Runs struct {
	tracer   trace.Tracer            // nil: no spans
	tasks    metric.Int64Counter     // nil: no metrics
	duration metric.Float64Histogram // set with tasks
	// outcomes holds the attribute set of each outcome, made once.
	outcomes map[string]metric.MeasurementOption
}

// NewRuns returns a Runs that records to cfg's providers, making its
// instruments once, now.
func NewRuns(cfg Config) *Runs {
	r := &Runs{tracer: cfg.tracer()}
	m := cfg.meter()
	if m == nil {
		return r
	}
	tasks, err := m.Int64Counter(metricTasks,
		metric.WithDescription("Tasks finished, by outcome: ok, failed (a result that is not OK), interrupted (no result: the alloc was lost or the run stopped), cached (not run: the cache had its result)."),
		metric.WithUnit("{task}"))
	r.tasks = orNoop(tasks, err, metric.Int64Counter(noop.Int64Counter{}))
	duration, err := m.Float64Histogram(metricTaskDuration,
		metric.WithDescription("How long a task took from StartTask to its end, by outcome."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(latencyBuckets...))
	r.duration = orNoop(duration, err, metric.Float64Histogram(noop.Float64Histogram{}))
	r.outcomes = make(map[string]metric.MeasurementOption)
	for _, o := range []string{outcomeOK, outcomeFailed, outcomeInterrupted, outcomeCached} {
		r.outcomes[o] = metric.WithAttributeSet(attribute.NewSet(keyOutcome.String(o)))
	}
	return r
}

func (r *Runs) off() bool { return r == nil || r.tracer == nil && r.tasks == nil }

// StartRun starts the span of one run, an ebb.Run span with the run's ID
// and program, as a child of any span in ctx. The returned context carries
// it: pass that context to what the run does, so that its allocations and
// tasks become its children. The caller ends the span with [RunSpan.End].
//
// A run that a new process resumes gets a new span with the same run ID:
// a span lives in one process.
func (r *Runs) StartRun(ctx context.Context, id, program string) (context.Context, RunSpan) {
	if r == nil || r.tracer == nil {
		return ctx, RunSpan{}
	}
	ctx, span := r.tracer.Start(ctx, spanRun)
	if span.IsRecording() {
		span.SetAttributes(keyRunID.String(id), keyProgram.String(program))
	}
	return ctx, RunSpan{span: span}
}

// A RunSpan is the span of a run, from [Runs.StartRun]. The zero RunSpan
// records nothing, and every method of it returns at once. A RunSpan is a
// small value; copies refer to the same span.
type RunSpan struct {
	span trace.Span
}

// Phase records that the run entered a phase (init, eval, retry, done) as
// an ebb.phase event.
func (s RunSpan) Phase(phase string) {
	if recording(s.span) {
		s.span.AddEvent(eventPhase, trace.WithAttributes(keyPhase.String(phase)))
	}
}

// End ends the run's span. A non-nil err is recorded and sets the span's
// status to Error, unless it is a cancellation. Call End once.
func (s RunSpan) End(err error) { endSpan(s.span, err) }

// StartTask starts the span of one try of a task, an ebb.Task span with
// the task's name and digest, the resources it holds (ebb.resources.<key>)
// and the ID of the alloc it runs on, as a child of the span in ctx (the
// run's). Pass the returned context to the Put and Wait of the task's exec.
// The caller ends the span with [TaskSpan.End], which also counts the task
// in the ebb.tasks and ebb.task.duration metrics.
func (r *Runs) StartTask(ctx context.Context, name string, id digest.Digest, res ebb.Resources, allocID string) (context.Context, TaskSpan) {
	if r.off() {
		return ctx, TaskSpan{}
	}
	s := TaskSpan{r: r}
	if r.tracer != nil {
		ctx, s.span = r.tracer.Start(ctx, spanTask)
		if s.span.IsRecording() {
			kv := make([]attribute.KeyValue, 0, 7)
			kv = append(kv, keyTaskName.String(name), keyTaskDigest.String(string(id)), keyAllocID.String(allocID))
			s.span.SetAttributes(appendResources(kv, prefixResources, res)...)
		}
	}
	if r.tasks != nil {
		s.start = time.Now()
	}
	return ctx, s
}

// A TaskSpan is the span of one try of a task, from [Runs.StartTask]. The
// zero TaskSpan records nothing, and End on it returns at once. A TaskSpan
// is a small value; copies refer to the same span.
type TaskSpan struct {
	r     *Runs
	span  trace.Span // nil: no span
	start time.Time  // zero without metrics
}

// End ends the task's span with how the task went: res when the exec
// finished (its exit code, and whether it was killed or its failure is
// transient, as attributes; a result that is not OK sets the status to
// Error), or err when no result could be had (the alloc was lost, the run
// stopped), which is recorded as the span's error. Call End once.
func (s TaskSpan) End(res pool.Result, err error) {
	if s.r == nil {
		return
	}
	outcome := outcomeOK
	switch {
	case err != nil:
		outcome = outcomeInterrupted
	case !res.OK():
		outcome = outcomeFailed
	}
	if s.span != nil {
		if err == nil && s.span.IsRecording() {
			kv := []attribute.KeyValue{keyExitCode.Int(res.ExitCode)}
			if res.Killed {
				kv = append(kv, keyKilled.Bool(true))
			}
			if res.Transient {
				kv = append(kv, keyTransient.Bool(true))
			}
			s.span.SetAttributes(kv...)
			if !res.OK() {
				msg := res.Error
				if msg == "" {
					msg = "exit code " + strconv.Itoa(res.ExitCode)
				}
				s.span.SetStatus(codes.Error, msg)
			}
		}
		endSpan(s.span, err)
	}
	if s.r.tasks != nil {
		ctx := context.Background()
		if s.span != nil {
			// Exemplars link the measurement to the span.
			ctx = trace.ContextWithSpan(ctx, s.span)
		}
		set := s.r.outcomes[outcome]
		s.r.tasks.Add(ctx, 1, set)
		s.r.duration.Record(ctx, time.Since(s.start).Seconds(), set)
	}
}

// Cached records that a task was not run because the cache had its
// result: an ebb.task.cached event on the span in ctx (the run's), and the
// task counted with outcome cached.
func (r *Runs) Cached(ctx context.Context, name string, id digest.Digest) {
	if r.off() {
		return
	}
	if span := trace.SpanFromContext(ctx); r.tracer != nil && span.IsRecording() {
		span.AddEvent(eventCached, trace.WithAttributes(keyTaskName.String(name), keyTaskDigest.String(string(id))))
	}
	if r.tasks != nil {
		r.tasks.Add(ctx, 1, r.outcomes[outcomeCached])
	}
}
