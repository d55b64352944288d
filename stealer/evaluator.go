package stealer

import (
	"context"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// An Evaluator is what a Stealer drives: the evaluation of one flow, which
// reports the work it cannot place and takes allocs to run work on.
// *runner.Eval implements it. Implementations must be safe for concurrent
// use, and Demand and Load must not block for long.
type Evaluator interface {
	// Demand returns the ready work that no alloc working for the
	// evaluation can place, largest shapes first.
	Demand() []ebb.Demand
	// Load returns what each alloc working for the evaluation is doing.
	// The result is the caller's: a Stealer keeps its maps.
	Load() []ebb.AllocLoad
	// Work runs ready work on a until the evaluation is done (nil), ctx
	// is done (ctx's error), a was drained and is idle (nil), or a is
	// lost (an error wrapping ebb.ErrExpired). It keeps a's lease alive
	// meanwhile.
	Work(ctx context.Context, a pool.Alloc) error
	// Drain tells the alloc with the given ID to take no new work, so
	// that its Work returns once what it runs has finished. It reports
	// whether such an alloc works for the evaluation.
	Drain(allocID string) bool
	// Done is closed when the evaluation has finished.
	Done() <-chan struct{}
}

// A DurationEstimator is an [Evaluator] that knows how long its tasks take.
// A Stealer checks for it with a type assertion and, when the evaluator has
// it, puts TaskDuration in every [Snapshot] so that the policy estimates the
// backlog from observed durations instead of its own guess.
type DurationEstimator interface {
	// TaskDuration returns how long a task typically runs (the mean of
	// recently finished tasks, say), or 0 when it does not know yet. It
	// must not block for long.
	TaskDuration() time.Duration
}

// A RemainingEstimator is an [Evaluator] that knows how long its running
// tasks have left. A Stealer checks for it with a type assertion and puts
// Remaining in every [Snapshot], so that the policy knows when the
// capacity that is held comes free.
type RemainingEstimator interface {
	// Remaining returns how much longer, on average, the tasks now
	// running are expected to run (see Durations.RunningLeft), or 0
	// when none runs. It must not block for long.
	Remaining() time.Duration
}
