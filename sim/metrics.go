package sim

import (
	"math"
	"slices"
)

// acc accumulates a run's figures, in cpu-seconds and counts.
type acc struct {
	busyAux    float64 // cpu-seconds of tasks run on auxiliary allocs
	allocated  float64 // cpu-seconds held by auxiliary allocs, grant to release
	wasteBoot  float64
	wasteTail  float64
	wasteNever float64
	cost       float64

	requests, launches, failures, cancels int
	acquisitions, releases, rebuys        int
	drains, busyDrains, busyKills         int
	rejected, policyCalls, peakWorkers    int
}

// Metrics are what one run measured. Resource-minutes are cpu-minutes
// (cores × minutes): cpu is what every task of every workload holds (the
// readers default it to one core), what workers are priced by, and what
// a reader can check by hand; memory and other keys constrain placement
// but are not counted. Times are in seconds.
type Metrics struct {
	Tasks int `json:"tasks"`
	// Makespan is when the last task finished, from time 0 (the first
	// arrival of the workload, or of the first run of a stream).
	Makespan float64 `json:"makespan_s"`
	// LowerBound is the workload's lower bound on the makespan (see
	// [LowerBound]), and MakespanRatio Makespan / LowerBound.
	LowerBound    float64 `json:"lower_bound_s"`
	MakespanRatio float64 `json:"makespan_ratio"`

	// Work is the workload's work, in cpu-minutes; BusyAux the part of
	// it that ran on auxiliary allocs.
	Work    float64 `json:"work_cpu_min"`
	BusyAux float64 `json:"busy_aux_cpu_min"`
	// Allocated is what the auxiliary allocs held from grant to
	// release, in cpu-minutes.
	Allocated float64 `json:"allocated_aux_cpu_min"`

	// Waste is ∫(allocated − busy) dt over the auxiliary allocs, boot
	// included, in cpu-minutes; it splits into:
	//   - WasteBoot: from launch to grant (or to the cancel of a launch
	//     in flight), at the cpu the alloc gets: the model bills boots,
	//     as clouds bill a VM from its start (a failed launch is neither
	//     billed nor wasted: no worker came of it);
	//   - WasteNeverUsed: from grant to release of allocs that ran
	//     nothing;
	//   - WasteIdleTail: from the end of the last task to the release of
	//     allocs that ran something;
	//   - WasteSlack: the rest: capacity left free beside running tasks,
	//     and gaps between tasks.
	Waste          float64 `json:"waste_cpu_min"`
	WasteBoot      float64 `json:"waste_boot_cpu_min"`
	WasteNeverUsed float64 `json:"waste_never_used_cpu_min"`
	WasteIdleTail  float64 `json:"waste_idle_tail_cpu_min"`
	WasteSlack     float64 `json:"waste_slack_cpu_min"`
	// WastePct is Waste as a percentage of BusyAux, the busy
	// resource-minutes of the same allocs; null (nil) when nothing ran
	// on them (busy time zero), whatever was wasted: a share of nothing
	// is not a number. Tables print it as "n/a".
	WastePct *float64 `json:"waste_pct"`

	// Cost is what the auxiliary allocs cost under the billing quantum:
	// each alloc's cpu at Cluster.Price per cpu-minute, for its life
	// from launch to release (or to the cancel of its launch), rounded
	// up to the quantum.
	Cost float64 `json:"cost"`

	// WaitP50, WaitP95, WaitP99 are percentiles (nearest rank) of the
	// tasks' waits, from ready (arrived, dependencies done) to start.
	WaitP50 float64 `json:"wait_p50_s"`
	WaitP95 float64 `json:"wait_p95_s"`
	WaitP99 float64 `json:"wait_p99_s"`

	// Requests counts the requests made, Launches the workers launched
	// (requests that waited for a slot count once launched), Failures
	// the launches that failed, Cancels the requests given up.
	Requests int `json:"requests"`
	Launches int `json:"launches"`
	Failures int `json:"failures"`
	Cancels  int `json:"cancels"`
	// Acquisitions (grants) plus Releases are the ScaleEvents.
	Acquisitions int `json:"acquisitions"`
	Releases     int `json:"releases"`
	ScaleEvents  int `json:"scale_events"`
	// Rebuys counts the acquisitions asked for less than twice the idle
	// timeout after a release, the timeout the policy said when it
	// drained the alloc released (see IdleTimer), each release matched
	// to one acquisition at most (ten acquisitions after three releases
	// are three re-buys); Thrash is their share of Acquisitions, in
	// percent.
	Rebuys int     `json:"rebuys"`
	Thrash float64 `json:"thrash_pct"`
	// Drains counts the allocs drained, BusyDrains those drained while
	// they ran tasks (they are released once idle), BusyKills the allocs
	// released while they ran tasks: always 0, since the simulator, like
	// a Stealer, frees an alloc only once its work is done.
	Drains     int `json:"drains"`
	BusyDrains int `json:"busy_drains"`
	BusyKills  int `json:"busy_kills"`
	// PeakWorkers is the most workers alive or booting at once.
	PeakWorkers int `json:"peak_workers"`
	// Rejected counts plan items the simulator skipped, as a Stealer
	// would (see Run); PolicyCalls the plans asked for.
	Rejected    int `json:"rejected"`
	PolicyCalls int `json:"policy_calls"`
	// Stalled, when set, says why the run stopped before its last task.
	Stalled string `json:"stalled,omitempty"`
}

func (e *engine) metrics(lb Bound) Metrics {
	a := e.acc
	m := Metrics{
		Tasks:          len(e.tasks),
		Makespan:       (e.now - e.t0).Seconds(),
		LowerBound:     lb.LB.Seconds(),
		Work:           e.cfg.Workload.Work() / 60,
		BusyAux:        a.busyAux / 60,
		Allocated:      a.allocated / 60,
		WasteBoot:      a.wasteBoot / 60,
		WasteNeverUsed: a.wasteNever / 60,
		WasteIdleTail:  a.wasteTail / 60,
		Cost:           a.cost,
		Requests:       a.requests,
		Launches:       a.launches,
		Failures:       a.failures,
		Cancels:        a.cancels,
		Acquisitions:   a.acquisitions,
		Releases:       a.releases,
		ScaleEvents:    a.acquisitions + a.releases,
		Rebuys:         a.rebuys,
		Drains:         a.drains,
		BusyDrains:     a.busyDrains,
		BusyKills:      a.busyKills,
		PeakWorkers:    a.peakWorkers,
		Rejected:       a.rejected,
		PolicyCalls:    a.policyCalls,
		Stalled:        e.stalled,
	}
	if m.LowerBound > 0 {
		m.MakespanRatio = m.Makespan / m.LowerBound
	}
	// The slack is what the allocs held beyond their busy time, the
	// never-used and the idle tails; rounding may leave dust below 0.
	m.WasteSlack = max(0, (a.allocated-a.busyAux-a.wasteNever-a.wasteTail)/60)
	m.Waste = m.WasteBoot + m.WasteNeverUsed + m.WasteIdleTail + m.WasteSlack
	if m.BusyAux > 0 {
		p := 100 * m.Waste / m.BusyAux
		m.WastePct = &p
	}
	if a.acquisitions > 0 {
		m.Thrash = 100 * float64(a.rebuys) / float64(a.acquisitions)
	}
	waits := slices.Clone(e.waits)
	slices.Sort(waits)
	m.WaitP50, m.WaitP95, m.WaitP99 = percentile(waits, 50), percentile(waits, 95), percentile(waits, 99)
	return m
}

// percentile returns the p-th percentile of sorted xs by nearest rank: the
// smallest x with at least p % of xs at or below it; 0 for none.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	k := int(math.Ceil(p / 100 * float64(len(xs))))
	return xs[min(len(xs), max(1, k))-1]
}
