package stealer

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
)

func TestNewDefaultInvalid(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   DefaultConfig
		field string
	}{
		{"negative latency prior", DefaultConfig{LatencyPrior: -1}, "LatencyPrior"},
		{"negative task duration", DefaultConfig{TaskDuration: -time.Second}, "TaskDuration"},
		{"negative idle timeout", DefaultConfig{IdleTimeout: -time.Second}, "IdleTimeout"},
		{"negative patience", DefaultConfig{Patience: -time.Second}, "Patience"},
		{"negative thrash memory", DefaultConfig{ThrashMemory: -time.Second}, "ThrashMemory"},
		{"negative max pending", DefaultConfig{MaxPending: -1}, "MaxPending"},
		{"negative max allocs", DefaultConfig{MaxAllocs: -1}, "MaxAllocs"},
		{"negative max width", DefaultConfig{MaxWidth: -1}, "MaxWidth"},
		{"negative max widen", DefaultConfig{MaxWiden: -1}, "MaxWiden"},
		{"bad max request", DefaultConfig{MaxRequest: ebb.Resources{ebb.CPU: -1}}, "MaxRequest"},
		{"idle clamps crossed", DefaultConfig{MinIdleTimeout: time.Hour, MaxIdleTimeout: time.Minute}, "MinIdleTimeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewDefault(tc.cfg)
			if !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(fmt.Sprint(err), tc.field) {
				t.Errorf("NewDefault(%+v) = %v, want ErrInvalid naming %s", tc.cfg, err, tc.field)
			}
		})
	}
}

func TestDefaultConfigDefaults(t *testing.T) {
	d, err := NewDefault(DefaultConfig{})
	if err != nil {
		t.Fatal(err)
	}
	got := d.Config()
	want := DefaultConfig{
		LatencyPrior: 30 * time.Second, TaskDuration: time.Minute,
		MinIdleTimeout: 2 * time.Second, MaxIdleTimeout: 10 * time.Minute,
		MaxPending: 64, MaxAllocs: 64, MaxWidth: 16,
		ThrashMemory: 15 * time.Minute, MaxWiden: 8,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("defaults %+v, want %+v", got, want)
	}
	if idle, _ := d.IdleTimeout(Snapshot{Now: t0}); idle != 2*time.Second {
		t.Errorf("idle timeout before any re-buy = %v, want MinIdleTimeout, 2s", idle)
	}
}
