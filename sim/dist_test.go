package sim

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
)

func TestParseDist(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Dist
		min  time.Duration
	}{
		{"30s", Dist{Kind: Fixed, A: 30 * time.Second}, 30 * time.Second},
		{"fixed:1m", Dist{Kind: Fixed, A: time.Minute}, time.Minute},
		{"uniform:10s,90s", Dist{Kind: Uniform, A: 10 * time.Second, B: 90 * time.Second}, 10 * time.Second},
		{"lognormal:30s,0.3", Dist{Kind: LogNormal, A: 30 * time.Second, Sigma: 0.3}, 12197089792},
		{"exp:20s", Dist{Kind: Exponential, A: 20 * time.Second}, 0},
	} {
		d, err := ParseDist(tc.in)
		if err != nil || d != tc.want {
			t.Errorf("ParseDist(%q) = %+v, %v; want %+v", tc.in, d, err, tc.want)
			continue
		}
		if back, err := ParseDist(d.String()); err != nil || back != d {
			t.Errorf("ParseDist(%q.String() = %q) = %+v, %v", tc.in, d.String(), back, err)
		}
		if d.Min() != tc.min {
			t.Errorf("%s: Min = %v, want %v", tc.in, d.Min(), tc.min)
		}
		r := rand.New(rand.NewPCG(1, 2))
		for range 10000 {
			if s := d.Sample(r); s < d.Min() || d.Kind == Uniform && s > d.B {
				t.Fatalf("%s: sample %v out of range", tc.in, s)
			}
		}
	}
	for _, bad := range []string{"", "soon", "uniform:10s", "uniform:9s,1s", "lognormal:1s,x", "lognormal:1s,-1", "gamma:1s", "-1s", "exp:1s,2s"} {
		if _, err := ParseDist(bad); !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("ParseDist(%q): err = %v, want ErrInvalid", bad, err)
		}
	}
}
