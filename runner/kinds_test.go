package runner

import (
	"maps"
	"testing"
	"time"
)

// TestRunningOfKind: a kind's running tasks, which started and stopped
// keep in a slice (the last taking the place of one that stops), are
// exactly those started and not stopped since, each with when it
// started, whatever the order they stop in; stopping a task twice, or
// one never started, changes nothing.
func TestRunningOfKind(t *testing.T) {
	const n = 6
	_, g, digests := allocsSetup(t, n)
	e, err := NewEval(t.Context(), g, digests, EvalConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.kinds) != 1 {
		t.Fatalf("%d kinds, want 1", len(e.kinds))
	}
	kd := e.kinds[0]
	base := time.Unix(1e9, 0)
	want := map[int32]time.Time{}
	check := func(step string) {
		t.Helper()
		got := map[int32]time.Time{}
		for _, r := range kd.running {
			if _, dup := got[r.t]; dup {
				t.Fatalf("after %s: task %d runs twice", step, r.t)
			}
			got[r.t] = r.at
		}
		if !maps.Equal(got, want) {
			t.Fatalf("after %s: running %v, want %v", step, got, want)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range int32(n - 1) { // the last never starts
		at := base.Add(time.Duration(i) * time.Second)
		e.started(i, nil, at)
		want[i] = at
	}
	check("starting")
	for _, i := range []int32{2, 4, 0, 0, 5, 3, 1} {
		e.stopped(i)
		delete(want, i)
		check("stopping task " + string(rune('0'+i)))
	}
	e.started(3, nil, base)
	want[3] = base
	check("starting task 3 again")
}
