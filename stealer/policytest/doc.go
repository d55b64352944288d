// Package policytest checks that a [stealer.Policy] keeps the invariants
// every plan must keep, whatever the snapshot: the stealer's default
// policy and the simulator's baselines are held to them, and so can any
// policy a user writes.
//
// [Run] feeds a policy many random snapshots, small and often odd
// (allocs running and idle at once, requests for shapes nobody wants,
// caps already passed), in short runs of increasing time, and reports
// every plan that breaks an invariant, with the snapshot and the plan.
// [Check] checks one plan against its snapshot, for a test that builds
// its own snapshots; [RandomSnapshot] makes one.
//
// # Invariants
//
// Every policy keeps these; they are the [stealer.Policy] contract and
// what a Stealer would otherwise reject:
//
//   - Plan does not panic and does not change its snapshot.
//   - Plan is deterministic: two fresh policies (made alike) given the
//     same snapshots return the same plans, and unless [Config.Stateful]
//     is set, one policy given the same snapshot twice returns the same
//     plan twice.
//   - A drain names an alloc of Snapshot.Held (never of Others) that works
//     (Working), runs nothing (Running 0) and is not draining yet; no
//     alloc is drained twice in one plan. A plan never drains a busy
//     alloc.
//   - A keep names an alloc of Snapshot.Held, at most once, that the plan
//     does not drain.
//   - A cancel names a request in flight (Snapshot.Pending), at most once.
//   - An acquire asks for valid requirements (ebb.Requirements.Validate).
//   - Every acquire, cancel, drain and keep has a reason.
//
// A policy that buys only for the demand it sees ([Rules.ForDemand])
// keeps these too, the tasks waiting being those of Snapshot.Demand and
// of Snapshot.Upcoming (the next wave, which a policy may buy ahead of;
// Follows entries, which ask for no slot, aside):
//
//   - Nothing is acquired when no task waits.
//   - Every acquire is for at least one waiting task (Request.For), each
//     of which fits a unit of its Min, and the plan is for no more tasks
//     than wait.
//   - Every acquire is expected ([Rules.Expect]) to hold the tasks it is
//     for.
//   - No cancelled request is one that the demand left over would still
//     use: after placing the demand on the held allocs that do not work
//     yet and on the requests kept, oldest first, each at what it is
//     expected to be granted, no task left fits what the cancelled request
//     is expected to be granted. Without [Rules.Expect], a kept request
//     counts at its Max and a cancelled one at its Min, the most and the
//     least it can be granted, so that no grant could excuse the cancel.
//
// And the limits a policy promises ([Rules]), each checked when set:
// Min a demanded shape, its memory and disk perhaps raised to another's
// of as many cpus (DemandShapes), Width within 1..MaxWidth, Max
// within MaxRequest (unless a single unit of Min is already beyond it),
// requests in flight after the plan within MaxPending, and allocs held
// and asked for within MaxAllocs, the last two only for a plan that
// acquires.
package policytest
