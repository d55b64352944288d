// Package placement holds the placement rules that runner.Eval and the
// simulator share, so that the simulator measures what a run does.
package placement

import "time"

// WaitShare bounds how long a task waits for a slot on the primary: a
// WaitShare-th of its expected run, so that the chain it heads ends at
// most that share later.
const WaitShare = 32

// Outlasts is how many times longer than every running task a task must
// be expected to run for Decide to weigh where it goes: a task of the
// usual length of what runs takes the capacity it was bought for.
const Outlasts = 2

// A Case is what Decide reads of one ready task whose best fit is an
// auxiliary alloc.
type Case struct {
	// Run is how long the task is expected to run: its kind's estimate.
	Run time.Duration
	// Waited is how long it has waited for the primary so far.
	Waited time.Duration
	// AuxBusy is how much longer the auxiliary alloc's running tasks
	// are expected to run, the longest of them; 0 when it runs none.
	AuxBusy time.Duration
	// Longest is the longest that any running task of any alloc is
	// expected to run, as a whole (its kind's estimate) or from now on,
	// whichever is longer; 0 when none runs.
	Longest time.Duration
	// PrimaryRoom says the primary has room for the task now.
	PrimaryRoom bool
	// PrimaryHolds says the primary's resources hold the task at all.
	PrimaryHolds bool
	// PrimaryFrees is how soon the first of the primary's running
	// tasks is expected to end; negative when it runs none.
	PrimaryFrees time.Duration
	// ReadyCPU is the cpus of every ready task; FreeAuxCPU the cpus
	// free on the auxiliary allocs that take new tasks.
	ReadyCPU, FreeAuxCPU float64
}

// A Choice is where a ready task goes.
type Choice uint8

const (
	// OnAux starts the task on the auxiliary alloc that fits it best.
	OnAux Choice = iota
	// OnPrimary starts it on the primary, which has room for it.
	OnPrimary
	// Wait leaves it ready: the primary frees a slot for it soon.
	Wait
)

// Decide says where a ready task whose best fit is an auxiliary alloc
// goes. A task expected to run at least Outlasts times as long as any
// running task (Longest), and that would keep that alloc alive long
// after its other tasks end (by more than a WaitShare-th of its run),
// goes to the primary, which the run holds anyway, when the primary has
// room for it: the slot it leaves on the auxiliary alloc takes other
// ready work, if any. Else it waits for the primary's next free slot
// when that is expected within a WaitShare-th of its run, it has not
// waited that long yet, and the ready work fits what the auxiliary
// allocs have free (when it does not, they stay busy, and the task
// starts there). Otherwise, and when its run is unknown, it starts on
// the auxiliary alloc.
func Decide(c Case) Choice {
	if !Weighs(c) {
		return OnAux
	}
	w := c.Run / WaitShare
	if c.AuxBusy >= c.Run-w || c.Run < Outlasts*c.Longest {
		return OnAux
	}
	if c.PrimaryRoom {
		return OnPrimary
	}
	if c.ReadyCPU > c.FreeAuxCPU || !c.PrimaryHolds || c.PrimaryFrees < 0 || c.PrimaryFrees > w || WaitOver(c.Run, c.Waited) {
		return OnAux
	}
	return Wait
}

// Weighs reports whether Decide weighs where the task of c goes at all,
// by the fields a caller fills without looking at the running tasks (Run,
// PrimaryRoom, ReadyCPU, FreeAuxCPU): when it does not, Decide says OnAux
// whatever the rest, and a caller may skip filling it.
func Weighs(c Case) bool {
	return c.Run > 0 && (c.PrimaryRoom || c.ReadyCPU <= c.FreeAuxCPU)
}

// WaitOver reports whether a task expected to run run has waited for the
// primary as long as Decide lets it: a WaitShare-th of its run. Placement
// looks again at a waiting task by the stealer's first tick after that,
// so that a primary slower to free a slot than expected does not keep it
// waiting.
func WaitOver(run, waited time.Duration) bool {
	return waited >= run/WaitShare
}
