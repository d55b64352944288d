package stealer

import (
	"fmt"
	"time"

	"github.com/ebbflow/ebb"
)

// AdmitLimits bound what [Admit] lets through of a plan.
type AdmitLimits struct {
	// MaxPending caps the requests in flight, counting those the plan
	// keeps and adds. Zero admits no new request.
	MaxPending int
	// RetryAt, when after the snapshot's Now, is the end of a backoff
	// after failed allocations: no new request is made before it.
	RetryAt time.Time
}

// Admitted is what of a [Plan] is carried out: the items of the plan that
// pass [Admit], in the plan's order, and the rest as rejections.
type Admitted struct {
	Cancel  []Cancel
	Drain   []Drain
	Acquire []Request
	// Rejected lists what was refused and why, one entry per item.
	Rejected []Rejection
	// BackingOff is set when the plan's requests were held back, none of
	// them made, because a backoff after failed allocations has not
	// passed (AdmitLimits.RetryAt). They are not rejections: the policy
	// asks again once it has.
	BackingOff bool
}

// A Rejection is one item of a plan that [Admit] refused.
type Rejection struct {
	// RequestID names the request a refused cancel was for; AllocID the
	// alloc a refused drain was for. Both are empty for a refused
	// request.
	RequestID RequestID
	AllocID   string
	// Err, when set, is the error that refused it (an invalid request).
	Err error
	// Reason says what was refused and why, the plan's own reason in
	// brackets.
	Reason string
}

// Admit decides which items of plan p, made from snapshot s, are carried
// out. It is the one admission of plans: a [Stealer] applies what it
// admits, and so does the simulator (package sim), so that a policy is
// measured exactly as it runs. Admit is pure; it keeps nothing of s or p.
//
// In order, as a Stealer applies them:
//   - a cancel is admitted for a request in flight (in s.Pending) that no
//     earlier cancel of p named, and refused otherwise;
//   - a drain is admitted for a held alloc (in s.Held) that works for the
//     evaluation and is not draining; a drain of an alloc draining
//     already, or named by an earlier drain of p, is dropped (it has
//     nothing left to do); a drain of an alloc not held, or held but not
//     working yet, is refused;
//   - while backing off (s.Now before lim.RetryAt) no request is made;
//     otherwise each request is admitted while the requests in flight
//     (those of s.Pending not cancelled, plus those admitted) stay under
//     lim.MaxPending, unless its Requirements are invalid or its Min asks
//     for nothing, in which case it is refused.
//
// A Stealer can still fail to carry out an admitted cancel or drain that
// the world has overtaken (the request was just granted, the alloc just
// stopped working); it reports those as rejected events too.
func Admit(s Snapshot, p Plan, lim AdmitLimits) Admitted {
	var a Admitted
	// The requests in flight, and the allocs held, are looked up by ID
	// only for the plan's cancels and drains: the maps are made only
	// when there are some (a plan at 10,000 allocs seldom has any).
	n := len(s.Pending) // in flight, less the cancels admitted
	var inFlight map[RequestID]bool
	if len(p.Cancel) > 0 {
		inFlight = make(map[RequestID]bool, len(s.Pending))
		for _, r := range s.Pending {
			inFlight[r.ID] = true
		}
		n = len(inFlight)
	}
	for _, c := range p.Cancel {
		if !inFlight[c.ID] {
			a.Rejected = append(a.Rejected, Rejection{RequestID: c.ID,
				Reason: fmt.Sprintf("cancel of request %s refused: not in flight (%s)", c.ID, c.Reason)})
			continue
		}
		delete(inFlight, c.ID)
		n--
		a.Cancel = append(a.Cancel, c)
	}

	var held map[string]*Held
	if len(p.Drain) > 0 {
		held = make(map[string]*Held, len(s.Held))
		for i := range s.Held {
			held[s.Held[i].ID] = &s.Held[i]
		}
	}
	drained := make(map[string]bool)
	for _, d := range p.Drain {
		h, ok := held[d.AllocID]
		switch {
		case !ok:
			a.Rejected = append(a.Rejected, Rejection{AllocID: d.AllocID,
				Reason: fmt.Sprintf("drain of alloc %s refused: not held by this stealer (%s)", d.AllocID, d.Reason)})
		case h.Draining || drained[d.AllocID]:
			// Drained already: nothing to do.
		case !h.Working:
			a.Rejected = append(a.Rejected, Rejection{AllocID: d.AllocID,
				Reason: fmt.Sprintf("drain of alloc %s refused: it does not work for the evaluation (yet, or any more) (%s)", d.AllocID, d.Reason)})
		default:
			drained[d.AllocID] = true
			a.Drain = append(a.Drain, d)
		}
	}

	if len(p.Acquire) > 0 && s.Now.Before(lim.RetryAt) {
		a.BackingOff = true
		return a
	}
	for _, r := range p.Acquire {
		switch err := r.Requirements.Validate(); {
		case n >= lim.MaxPending:
			a.Rejected = append(a.Rejected, Rejection{
				Reason: fmt.Sprintf("request not made: %s in flight (MaxPending %d) (%s)", plural(n, "request"), lim.MaxPending, r.Reason)})
		case err != nil:
			a.Rejected = append(a.Rejected, Rejection{Err: err,
				Reason: fmt.Sprintf("request refused: %v (%s)", err, r.Reason)})
		case r.Requirements.Min.IsZero():
			err := fmt.Errorf("requirements min: asks for nothing: %w", ebb.ErrInvalid)
			a.Rejected = append(a.Rejected, Rejection{Err: err,
				Reason: fmt.Sprintf("request refused: %v (%s)", err, r.Reason)})
		default:
			n++
			a.Acquire = append(a.Acquire, r)
		}
	}
	return a
}
