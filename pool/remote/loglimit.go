package remote

import (
	"sync"
	"time"
)

// logLimit is a token bucket for log lines, so that a flood of refused
// requests (anyone who can reach the port can send them) cannot flood the
// log: up to burst lines at once, then one per every. The lines it
// holds back are counted, and the next line let through says how many.
// The zero value lets nothing through; make one with newLogLimit. It is
// safe for concurrent use; its fields are guarded by mu.
type logLimit struct {
	burst int
	every time.Duration

	mu         sync.Mutex
	tokens     float64
	last       time.Time // when tokens was last topped up; zero: never
	suppressed int
}

func newLogLimit(burst int, every time.Duration) *logLimit {
	return &logLimit{burst: burst, every: every}
}

// allow reports whether a line may be logged at now and, if so, how many
// lines were held back since the last one let through.
func (l *logLimit) allow(now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.last.IsZero():
		l.tokens = float64(l.burst)
	case now.After(l.last) && l.every > 0:
		l.tokens = min(float64(l.burst), l.tokens+float64(now.Sub(l.last))/float64(l.every))
	}
	if now.After(l.last) {
		l.last = now
	}
	if l.tokens < 1 {
		l.suppressed++
		return false, 0
	}
	l.tokens--
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}
