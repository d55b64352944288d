package backoff

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

func TestWaitGrowsToMax(t *testing.T) {
	p := Policy{Min: 10 * time.Millisecond, Max: time.Second, Factor: 2}
	for n, want := range []time.Duration{10, 20, 40, 80, 160, 320, 640, 1000, 1000} {
		if got := p.Wait(n); got != want*time.Millisecond {
			t.Errorf("Wait(%d) = %v, want %v", n, got, want*time.Millisecond)
		}
	}
	if got := p.Wait(1 << 30); got != time.Second {
		t.Errorf("Wait(huge) = %v, want the max", got)
	}
}

func TestJitterStaysInRange(t *testing.T) {
	p := Policy{Min: time.Second, Max: time.Second, Factor: 2, Jitter: 0.25}
	for range 1000 {
		if got := p.Wait(3); got < 750*time.Millisecond || got > time.Second {
			t.Fatalf("Wait = %v, want in [750ms, 1s]", got)
		}
	}
}

func TestZeroRetriesAtOnce(t *testing.T) {
	if got := (Policy{}).Wait(5); got != 0 {
		t.Errorf("zero Policy Wait = %v, want 0", got)
	}
}

func TestSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := Policy{Min: time.Second, Max: time.Minute, Factor: 3}
		start := time.Now()
		if err := p.Sleep(context.Background(), 2); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 9*time.Second {
			t.Errorf("slept %v, want 9s", got)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := p.Sleep(ctx, 5); err != context.DeadlineExceeded {
			t.Errorf("Sleep past ctx deadline = %v, want DeadlineExceeded", err)
		}
		if got := time.Since(start); got != 10*time.Second {
			t.Errorf("cancelled sleep ended at %v, want 10s", got)
		}
	})
}
