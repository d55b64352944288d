package stealer_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

func TestAdmit(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	one := stealer.Request{Requirements: ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1}}, Reason: "one"}
	s := stealer.Snapshot{
		Now:     now,
		Pending: []stealer.Pending{{ID: "r1"}, {ID: "r2"}},
		Held: []stealer.Held{
			{ID: "a", Working: true},
			{ID: "b", Working: true, Draining: true},
			{ID: "c"}, // granted, not working yet
		},
	}
	p := stealer.Plan{
		Cancel: []stealer.Cancel{{ID: "r1"}, {ID: "r1"}, {ID: "r7"}},
		Drain:  []stealer.Drain{{AllocID: "a"}, {AllocID: "a"}, {AllocID: "b"}, {AllocID: "c"}, {AllocID: "x"}},
		Acquire: []stealer.Request{
			one, {Requirements: ebb.Requirements{Min: ebb.Resources{ebb.CPU: -1}}}, {}, one, one,
		},
	}
	a := stealer.Admit(s, p, stealer.AdmitLimits{MaxPending: 3})
	if len(a.Cancel) != 1 || a.Cancel[0].ID != "r1" {
		t.Errorf("cancels %v, want r1 once", a.Cancel)
	}
	if len(a.Drain) != 1 || a.Drain[0].AllocID != "a" {
		t.Errorf("drains %v, want a once (b drains already, c does not work, x is not held)", a.Drain)
	}
	// r2 stays in flight: two more requests fit under MaxPending 3.
	if len(a.Acquire) != 2 {
		t.Errorf("%d requests admitted, want 2", len(a.Acquire))
	}
	var invalid, refusals int
	for _, r := range a.Rejected {
		refusals++
		if errors.Is(r.Err, ebb.ErrInvalid) {
			invalid++
		}
	}
	// r1 twice, r7; c, x; the negative and the empty request; one over
	// the cap.
	if refusals != 7 || invalid != 2 {
		t.Errorf("rejected %d (%d invalid), want 7 (2 invalid): %+v", refusals, invalid, a.Rejected)
	}
	if a.BackingOff {
		t.Error("backing off without a RetryAt")
	}

	// While backing off no request is made, and none is refused.
	a = stealer.Admit(s, stealer.Plan{Acquire: []stealer.Request{one}}, stealer.AdmitLimits{MaxPending: 9, RetryAt: now.Add(time.Second)})
	if !a.BackingOff || len(a.Acquire) != 0 || len(a.Rejected) != 0 {
		t.Errorf("backing off: %+v", a)
	}
	a = stealer.Admit(s, stealer.Plan{Acquire: []stealer.Request{one}}, stealer.AdmitLimits{MaxPending: 9, RetryAt: now})
	if a.BackingOff || len(a.Acquire) != 1 {
		t.Errorf("backoff over at Now: %+v", a)
	}

	// Without cancels, the requests in flight still count against
	// MaxPending: r1 and r2 leave room for one of three.
	a = stealer.Admit(s, stealer.Plan{Acquire: []stealer.Request{one, one, one}}, stealer.AdmitLimits{MaxPending: 3})
	if len(a.Acquire) != 1 || len(a.Rejected) != 2 {
		t.Errorf("no cancels, 2 in flight, MaxPending 3: %d admitted, %d refused; want 1 and 2", len(a.Acquire), len(a.Rejected))
	}
}
