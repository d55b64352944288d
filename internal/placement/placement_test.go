package placement

import (
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	// An hour-long task whose best fit is an idle auxiliary alloc; the
	// primary is full and frees a slot in a minute, within the hour's
	// 32nd (112.5 s); the ready work fits what the auxiliary allocs
	// have free.
	base := Case{Run: time.Hour, PrimaryHolds: true, PrimaryFrees: time.Minute, ReadyCPU: 1, FreeAuxCPU: 8}
	for _, tc := range []struct {
		name string
		edit func(*Case)
		want Choice
	}{
		{"waits for the primary's slot", func(*Case) {}, Wait},
		{"goes to the primary when it has room", func(c *Case) { c.PrimaryRoom = true }, OnPrimary},
		{"starts at once when the slot frees too late", func(c *Case) { c.PrimaryFrees = 2 * time.Minute }, OnAux},
		{"waits no longer than a 32nd of its run", func(c *Case) { c.Waited = 113 * time.Second }, OnAux},
		{"has waited less", func(c *Case) { c.Waited = 112 * time.Second }, Wait},
		{"the primary runs nothing it waits on", func(c *Case) { c.PrimaryFrees = -1 }, OnAux},
		{"the primary cannot hold it", func(c *Case) { c.PrimaryHolds = false }, OnAux},
		{"the alloc lives that long anyway", func(c *Case) { c.AuxBusy = time.Hour - 112*time.Second }, OnAux},
		{"the alloc ends well before it", func(c *Case) { c.AuxBusy = 50 * time.Minute }, Wait},
		{"the ready work needs the auxiliary allocs", func(c *Case) { c.ReadyCPU = 9 }, OnAux},
		{"the ready work needs them, the primary has room", func(c *Case) { c.ReadyCPU, c.PrimaryRoom = 9, true }, OnPrimary},
		{"its run is unknown", func(c *Case) { c.Run = 0 }, OnAux},
		{"a running task ends more than half as late", func(c *Case) { c.Longest = 31 * time.Minute }, OnAux},
		{"every running task ends by half its run", func(c *Case) { c.Longest = 30 * time.Minute }, Wait},
	} {
		c := base
		tc.edit(&c)
		if got := Decide(c); got != tc.want {
			t.Errorf("%s: Decide(%+v) = %v, want %v", tc.name, c, got, tc.want)
		}
		// A caller that skips a case Weighs leaves out skips nothing
		// Decide would do otherwise.
		if !Weighs(c) && tc.want != OnAux {
			t.Errorf("%s: Weighs(%+v) = false, but Decide says %v", tc.name, c, tc.want)
		}
	}
	if !Weighs(base) {
		t.Error("Weighs of a task of known run whose ready work fits the auxiliary allocs = false")
	}
}
