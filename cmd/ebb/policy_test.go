package main

import (
	"errors"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

func TestRunPolicy(t *testing.T) {
	p, err := runPolicy("default:MaxAllocs=3:MaxRequest=cpu=8,mem=32GiB", 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cfg := p.(*stealer.Default).Config()
	if cfg.MaxAllocs != 3 || cfg.LatencyPrior != 20*time.Second || cfg.MaxRequest[ebb.CPU] != 8 {
		t.Errorf("config %+v, want MaxAllocs 3, LatencyPrior 20s (the workers'), MaxRequest cpu=8", cfg)
	}
	p, err = runPolicy("default:LatencyPrior=2m", 20*time.Second)
	if err != nil || p.(*stealer.Default).Config().LatencyPrior != 2*time.Minute {
		t.Errorf("a LatencyPrior knob: %v, %v; want it to win over the workers' latency", p, err)
	}
	for _, bad := range []string{"spark", "default:MaxAlocs=3", "default:MaxAllocs=-1"} {
		if _, err := runPolicy(bad, time.Second); !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("runPolicy(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}
