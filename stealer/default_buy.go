package stealer

import (
	"fmt"
	"math"
	"time"

	"github.com/ebbflow/ebb"
)

// What the default policy buys: steps 4 and 5 of [Default], how long the
// backlog takes to start on held capacity and the part of it that would
// still wait when a new alloc comes.

// purchase is what toBuy found.
type purchase struct {
	buy      []group         // what to buy for
	why      string          // the drain estimate, for reasons
	runnable map[string]bool // shape text → held capacity can run it
	// drainSecs is how long the runnable backlog takes to start on held
	// capacity.
	drainSecs float64
}

// watchShare is the share of the latency for which tasks of a kind just
// begun (running, none finished) are watched before they are bought for:
// a purchase made on the guess for tasks that take a second is cancelled
// within seconds and costs a boot each, while one made a 16th of a
// latency late for tasks that take a minute comes that much later. A
// hold lasts until the policy is asked again, so there is no watch when
// that is later (Snapshot.Tick): with a tick of a second, allocations
// must take 16 s or more.
const watchShare = 16

// toBuy is steps 4 and 5: it estimates how long the backlog takes to
// start on held capacity (the allocs that work and are not draining nor
// drained by this plan, the primary included), a shape's tasks starting
// at the rate its slots free up (slots ÷ task duration: the demand's own
// estimate for its tasks' kinds when it has one, else the snapshot's
// TaskDuration, else the configured guess), largest shapes first, the
// first once held capacity's running tasks leave a slot (see step 4 of
// Default), and returns the part that would still wait when a new alloc
// arrives (after the latency estimate, plus the patience once task
// durations are known).
func (d *Default) toBuy(s Snapshot, backlog []group, drains []Drain, latency time.Duration) purchase {
	taskDur := s.TaskDuration
	if taskDur <= 0 {
		taskDur = d.cfg.TaskDuration
	}
	drained := make(map[string]bool, len(drains))
	for _, dr := range drains {
		drained[dr.AllocID] = true
	}
	var caps []bin
	for _, h := range s.Held {
		if !h.Draining && !drained[h.ID] {
			caps = addBin(caps, h.Resources, 1)
		}
	}
	for _, h := range s.Others {
		if !h.Draining {
			caps = addBin(caps, h.Resources, 1)
		}
	}
	var patience time.Duration
	wide := ""
	if s.TaskDuration > 0 {
		patience, wide = d.patience(s)
	}
	budget := (latency + patience).Seconds()
	chained := chainWork(s, latency)
	drainSecs := 0.0 // to start the runnable backlog on held capacity
	chainSecs := 0.0 // of which the chains its tasks head
	p := purchase{runnable: make(map[string]bool)}
	first := true
	watched := 0 // tasks of kinds just begun
	// The watch holds until the policy is asked again: only when that
	// comes within it (Snapshot.Tick) does a hold cost no more.
	watch := latency / watchShare
	if s.Tick <= 0 || s.Tick > watch {
		watch = 0
	}
	for _, g := range backlog {
		n := slots(g.shape, caps)
		if n == 0 {
			p.buy = append(p.buy, g)
			continue
		}
		p.runnable[g.shape.String()] = true
		if g.bound && g.dur < watch && g.count > n {
			// Tasks of their kinds have just begun and none has
			// finished, and more wait than held capacity has slots
			// for: watched a moment, they tell a second's task from
			// an hour's, which the guess cannot, before a purchase
			// larger than what is held is made on it.
			watched += g.count
			continue
		}
		dur := taskDur
		switch {
		case g.dur > 0 && !g.bound:
			dur = g.dur // the evaluation's estimate for these tasks' kinds
		case g.dur > 0:
			// Tasks of their kinds have run this long and none has
			// finished: at least that, and at least the guess, since the
			// durations of other kinds say nothing of these.
			dur = max(g.dur, d.cfg.TaskDuration)
		}
		// A ready task heading a chain holds its slot for the chain
		// too: the tasks read to head one count their chains' work.
		perTask := dur.Seconds()
		if c, ok := chained[g.shape.String()]; ok {
			heads := min(g.count, c.Count)
			perTask += float64(heads) * c.Duration.Seconds() / float64(g.count)
			chainSecs += float64(heads) * c.Duration.Seconds() / float64(n)
		}
		t := float64(g.count) * perTask / float64(n)
		// ahead is the part of the budget gone before a slot frees,
		// counted where the running tasks' end is a number: by the
		// guess before any task ends, or by every kind's known
		// duration (else it is only the drain time's).
		ahead := 0.0
		if first {
			// Held capacity comes free as its running tasks end: on
			// average in half a task's time when they are as far along
			// as a steady flow's, later when they have just begun.
			left := s.Remaining.Seconds()
			guessed := s.TaskDuration <= 0 // no task has finished
			slotted := n < maxSlots        // its tasks wait for a slot
			if guessed && slotted {
				// No task has finished: the running ones are taken
				// to run the guess, Remaining (half their age again
				// while nothing is known) saying how far along
				// they are, and no slot frees before they end.
				left = max(left, taskDur.Seconds()-2*left)
			}
			ownKind := g.bound && g.dur > 0 && slotted
			if ownKind {
				// Tasks of their kinds run and none has finished:
				// those running are taken to run as long as these
				// (dur, at least the guess), and the slots they hold
				// free no sooner.
				left = max(left, (dur - g.dur).Seconds())
			}
			wait := max(0, left-dur.Seconds()/2)
			t += wait
			if slotted && (guessed || ownKind || s.Critical.Ranked) {
				ahead = wait
			}
			first = false
		}
		drainSecs += t
		if t <= budget {
			budget -= t
			continue
		}
		started := int(math.Floor(max(0, budget-ahead) * float64(n) / perTask))
		budget = 0
		if left := g.count - started; left > 0 {
			p.buy = append(p.buy, group{shape: g.shape, count: left, dur: g.dur, bound: g.bound})
		}
	}
	secs := func(x float64) string { return fmtDur(time.Duration(min(x, maxSecs) * float64(time.Second))) }
	chains := ""
	if chainSecs > 0 {
		chains = fmt.Sprintf(" (%s of it the chains its tasks head)", secs(chainSecs))
	}
	p.why = fmt.Sprintf("backlog drains in %s on held capacity%s, allocation takes %s", secs(drainSecs), chains, fmtDur(latency))
	if patience > 0 {
		p.why += fmt.Sprintf(", patience %s", fmtDur(patience))
	}
	p.why += wide
	if watched > 0 {
		p.why += fmt.Sprintf("; %s of kinds just begun wait %s for their first times",
			plural(watched, "task"), fmtDur(watch))
	}
	p.drainSecs = drainSecs
	return p
}

// chainWork returns the chains behind ready tasks (Upcoming.Follows),
// and behind upcoming ones that count as waiting (Upcoming.Chain, see
// nextWave), by the text of their heads' shape, each as an entry whose
// Count tasks head chains of Duration on average.
func chainWork(s Snapshot, latency time.Duration) map[string]Upcoming {
	var out map[string]Upcoming
	for _, u := range s.Upcoming {
		switch {
		case u.Count <= 0:
			continue
		case u.Follows:
			if u.Duration <= 0 {
				continue
			}
		case u.Chain > 0 && dueWithin(s, u, latency):
			u = Upcoming{Demand: ebb.Demand{Resources: u.Resources, Count: u.Count, Duration: u.Chain}}
		default:
			continue
		}
		if out == nil {
			out = make(map[string]Upcoming)
		}
		k := u.Resources.String()
		if c, ok := out[k]; ok {
			// Two entries of a shape: their work summed, as one mean.
			total := c.Duration*time.Duration(c.Count) + u.Duration*time.Duration(u.Count)
			c.Count += u.Count
			c.Duration = total / time.Duration(c.Count)
			out[k] = c
			continue
		}
		out[k] = u
	}
	return out
}
