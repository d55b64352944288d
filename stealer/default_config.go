package stealer

import (
	"fmt"
	"time"

	"github.com/ebbflow/ebb"
)

// DefaultConfig configures the [Default] policy. The zero value asks for
// the defaults, each given below with the reason for it; a negative value
// is invalid. BENCHMARKS.md holds what each default was measured to do on
// the simulator's workloads, and the command that measured it.
type DefaultConfig struct {
	// LatencyPrior is how long an allocation is assumed to take before
	// any has been observed. Default 30 s: between a container (~10 s)
	// and a VM (~90 s). Once allocations have been granted, the median
	// of the observed latencies is used instead, raised to the age of
	// the oldest request still in flight (a request that has waited that
	// long says the cluster is slower than the samples). Requests
	// cancelled before their grant count as latencies of at least their
	// wait; with none granted, a wait past the prior is taken half as
	// long again.
	LatencyPrior time.Duration

	// TaskDuration is how long a task is assumed to run when the snapshot
	// does not say (Snapshot.TaskDuration is zero). Default 1 min: with
	// the latency prior a burst is bought for at once, and only the first
	// plans use it. Set it to what your tasks take: shorter makes the
	// policy patient, longer eager.
	TaskDuration time.Duration

	// Patience is how much longer than an allocation takes a task may
	// wait before the policy buys capacity for it: it buys for the part
	// of the backlog that would not start on held capacity within the
	// latency estimate plus Patience. Default 0: four times the typical
	// latency, so that a new alloc, whose boot is paid whether it is
	// used or not, saves each task it is bought for at least four boots
	// of waiting, but never more than half a typical task's run
	// (Snapshot.TaskDuration): a task kept waiting past the latency
	// longer than that is slowed by more than half, and when it is on a
	// flow's critical path (its last waves, a stage behind a gather)
	// that wait is the makespan's; and none when every kind's duration
	// is known and held capacity cannot run the work left before the
	// longest running chain ends (Snapshot.Critical: the flow is wider
	// than what is held, and the queue stands). It applies only once
	// tasks have been seen to finish
	// (Snapshot.TaskDuration set), since a guessed duration can be far
	// off. A tiny value (1 ns) turns it off.
	Patience time.Duration

	// IdleTimeout, when set, is how long an alloc stays idle before it
	// is drained, widened by re-buys up to MaxWiden times. Default 0:
	// start at MinIdleTimeout and earn a longer one, as below.
	IdleTimeout time.Duration

	// MinIdleTimeout is the idle timeout while no re-buy is remembered.
	// Default 2 s (two ticks): most capacity a batch run gives back is
	// not wanted again soon, and a task finishing and its dependents
	// starting happen within a tick. Once the policy sees itself re-buy
	// (see ThrashMemory), the timeout is the latency estimate: keeping
	// an idle alloc for as long as a new one takes to arrive is the
	// break-even of ski rental, and keeping it longer never pays.
	//
	// MaxIdleTimeout caps the default idle timeout however it is
	// widened. Default 10 min: a very slow cluster does not keep idle
	// allocs for ever.
	MinIdleTimeout, MaxIdleTimeout time.Duration

	// MaxPending caps the requests in flight, counting those the plan
	// keeps and adds. Default 64, the Stealer's own cap: a burst is
	// bought in one tick, and a cluster that cannot keep up holds the
	// rest in its queue, which costs nothing until they launch.
	MaxPending int

	// MaxAllocs caps the auxiliary allocs held and asked for together.
	// Default 64: a bound on what a runaway flow can cost; raise it for
	// big clusters.
	MaxAllocs int

	// MaxWidth caps how many task-sized units one request asks for
	// (Requirements.Width). Default 16: one request is one alloc on one
	// node, so a much wider request is cut to the node anyway. A
	// narrower cap trades speed for waste, most when a few tasks run far
	// longer than the rest, since each keeps its whole alloc alive.
	MaxWidth int

	// MaxRequest, when set, caps what one request asks for: every
	// request's Max fits in it, except that a task bigger than MaxRequest
	// still gets a request of its own (Width 1), since nothing else could
	// run it. As everywhere, a key it lacks counts as 0, so give it every
	// key your tasks use (a node's shape is a good MaxRequest). Default
	// nil: no cap beyond MaxWidth.
	MaxRequest ebb.Resources

	// ThrashMemory is how long a re-buy widens the idle timeout. A
	// re-buy is an acquisition asked for soon after a release: less than
	// the latency estimate (or twice the base idle timeout, if longer)
	// after it, when keeping the alloc would have cost less than buying
	// it again. Each release counts once, however many acquisitions
	// follow it; as re-buys age past ThrashMemory the timeout narrows
	// back. Default 15 min: long enough to span a few cycles of a
	// periodic load.
	ThrashMemory time.Duration

	// MaxWiden caps the widening factor of a fixed IdleTimeout. Default
	// 8 (three re-buys); 1 turns widening off. The default idle timeout
	// widens up to the latency estimate instead (see MinIdleTimeout).
	MaxWiden int
}

func (c *DefaultConfig) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.LatencyPrior, 30*time.Second)
	def(&c.TaskDuration, time.Minute)
	def(&c.MinIdleTimeout, 2*time.Second)
	def(&c.MaxIdleTimeout, 10*time.Minute)
	def(&c.ThrashMemory, 15*time.Minute)
	defInt := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	defInt(&c.MaxPending, 64)
	defInt(&c.MaxAllocs, 64)
	defInt(&c.MaxWidth, 16)
	defInt(&c.MaxWiden, 8)
}

func (c *DefaultConfig) validate() error {
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"LatencyPrior", c.LatencyPrior}, {"TaskDuration", c.TaskDuration},
		{"Patience", c.Patience}, {"IdleTimeout", c.IdleTimeout}, {"MinIdleTimeout", c.MinIdleTimeout},
		{"MaxIdleTimeout", c.MaxIdleTimeout}, {"ThrashMemory", c.ThrashMemory},
	} {
		if f.v < 0 {
			return fmt.Errorf("stealer: default policy: %s %v: must not be negative: %w", f.name, f.v, ebb.ErrInvalid)
		}
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"MaxPending", c.MaxPending}, {"MaxAllocs", c.MaxAllocs}, {"MaxWidth", c.MaxWidth}, {"MaxWiden", c.MaxWiden},
	} {
		if f.v < 0 {
			return fmt.Errorf("stealer: default policy: %s %d: must not be negative: %w", f.name, f.v, ebb.ErrInvalid)
		}
	}
	if err := c.MaxRequest.Validate(); err != nil {
		return fmt.Errorf("stealer: default policy: MaxRequest: %w", err)
	}
	return nil
}
