package stealer

import (
	"fmt"
	"slices"
	"time"

	"github.com/ebbflow/ebb"
)

// Learned is what a stealer observed of its cluster that the next run on
// it may start from: how long its granted requests took, and how long
// those it cancelled had waited (the last 32 of each, oldest first, as
// Snapshot.Latency and Snapshot.Cancelled give them to the policy). A
// run that starts from what the run before learned (Config.Learned)
// knows from its first plan how long an alloc takes to come, where one
// that starts from nothing takes the policy's prior until its first
// grant. The zero value knows nothing.
type Learned struct {
	Latency   []time.Duration `json:"latency,omitempty"`
	Cancelled []time.Duration `json:"cancelled,omitempty"`
}

// Validate reports a negative duration, naming it, with an error
// wrapping ebb.ErrInvalid.
func (l Learned) Validate() error {
	for _, f := range []struct {
		name string
		ds   []time.Duration
	}{{"Latency", l.Latency}, {"Cancelled", l.Cancelled}} {
		for i, d := range f.ds {
			if d < 0 {
				return fmt.Errorf("%s[%d] %v: must not be negative: %w", f.name, i, d, ebb.ErrInvalid)
			}
		}
	}
	return nil
}

// clone returns a copy of l, each list cut to the last keepLatencies.
func (l Learned) clone() Learned {
	last := func(ds []time.Duration) []time.Duration {
		return slices.Clone(ds[max(0, len(ds)-keepLatencies):])
	}
	return Learned{Latency: last(l.Latency), Cancelled: last(l.Cancelled)}
}

// Learned returns what the stealer has observed of its cluster: what
// Config.Learned gave it, and once Run has returned, what Run observed
// besides. It is safe to call at any time; while Run is under way it
// returns what was known when Run started. The result is the caller's.
func (s *Stealer) Learned() Learned {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.learned.clone()
}
