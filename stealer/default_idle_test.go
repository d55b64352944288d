package stealer

import (
	"testing"
	"time"
)

func TestIdleTimeoutWidensAndCaps(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{IdleTimeout: time.Minute, MaxWiden: 4})
	s := Snapshot{Now: t0}
	for i, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 4 * time.Minute} {
		got, rebuys := d.IdleTimeout(s)
		if got != want || rebuys != i {
			t.Errorf("after %d re-buys: idle timeout %v (%d counted), want %v\n%s", i, got, rebuys, want, formatSnapshot(s))
		}
		at := t0.Add(-time.Duration(10-i) * time.Minute)
		s.Recent = append(s.Recent,
			Change{Time: at, Kind: Released, Resources: cpus(1)},
			Change{Time: at.Add(30 * time.Second), Kind: Acquired, Resources: cpus(1)})
	}
}

// rebuyPairs returns n releases, each bought back after gap, a minute
// apart and the last ending a minute ago.
func rebuyPairs(n int, gap time.Duration) []Change {
	var out []Change
	for i := range n {
		at := t0.Add(-time.Duration(n-i) * time.Minute).Add(-gap)
		out = append(out,
			Change{Time: at, Kind: Released, Resources: cpus(4)},
			Change{Time: at.Add(gap), Kind: Acquired, Resources: cpus(4)})
	}
	return out
}

// The default idle timeout is MinIdleTimeout until a re-buy is seen, and
// then the latency estimate, the break-even of ski rental.
func TestDefaultIdleTimeoutWidensToLatency(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{})
	for n, want := range []time.Duration{2 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second} {
		s := Snapshot{Now: t0, Latency: []time.Duration{30 * time.Second}, Recent: rebuyPairs(n, 5*time.Second)}
		if got, rebuys := d.IdleTimeout(s); got != want || rebuys != n {
			t.Errorf("after %d re-buys: idle timeout %v (%d counted), want %v\n%s", n, got, rebuys, want, formatSnapshot(s))
		}
	}
}

// A request cancelled before its grant says its allocation would have
// taken longer than it waited: the latency estimate counts it as a
// censored latency (the Kaplan–Meier median), and with no grant seen it
// is half as long again as the longest such wait when that is past the
// prior: a wait is only a lower bound.
func TestDefaultLatencyCountsCancelledRequests(t *testing.T) {
	d, _ := NewDefault(DefaultConfig{LatencyPrior: 30 * time.Second})
	s := func(granted, cancelled []time.Duration) Snapshot {
		return Snapshot{Now: t0, Latency: granted, Cancelled: cancelled}
	}
	sec := func(xs ...int) []time.Duration {
		var out []time.Duration
		for _, x := range xs {
			out = append(out, time.Duration(x)*time.Second)
		}
		return out
	}
	for _, c := range []struct {
		name               string
		granted, cancelled []time.Duration
		want               time.Duration
	}{
		{"nothing seen: the prior", nil, nil, 30 * time.Second},
		{"cancelled sooner than the prior", nil, sec(2, 5), 30 * time.Second},
		{"cancelled after 45s, nothing granted", nil, sec(2, 45), 67500 * time.Millisecond},
		{"odd grants: the middle one", sec(40, 10, 20), nil, 20 * time.Second},
		{"even grants: between the middle two", sec(10, 20, 30, 40), nil, 25 * time.Second},
		// Three granted within 20s, three cancelled past a minute:
		// from 20s on, half the requests are still waiting; the
		// middle of 20s and the longest wait seen.
		{"half still waiting past the grants", sec(10, 15, 20), sec(60, 70, 80), 50 * time.Second},
		// Fewer than half granted before the others were cancelled:
		// the median lies past what was seen.
		{"most still waiting", sec(10), sec(60, 70), 70 * time.Second},
		// Cancelled after 5s: out of the risk set from then on, the
		// curve falls 1/3 at each later grant: 2/3, 1/3.
		{"cancelled early", sec(10, 20, 30), sec(5), 20 * time.Second},
		// 10s (4 at risk): 3/4; 20s cancelled; 30s (2 at risk): 3/8.
		{"cancelled between", sec(10, 30, 40), sec(20), 30 * time.Second},
		// A grant and a cancel at the same wait: the cancelled one was
		// at risk then. 10s: 3/4 ... 1/2 exactly at 20s, then the
		// middle to the next grant at 40s.
		{"tie", sec(10, 20, 40), sec(20), 30 * time.Second},
	} {
		if got := d.Latency(s(c.granted, c.cancelled)); got != c.want {
			t.Errorf("%s: granted %v, cancelled after %v: latency %v, want %v", c.name, c.granted, c.cancelled, got, c.want)
		}
	}
}
