package ebb

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParseResources(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Resources
	}{
		{"", Resources{}},
		{"  ", Resources{}},
		{"cpu=2,mem=8GiB,disk=100GB,gpu=1", Resources{CPU: 2, Mem: 8 << 30, Disk: 100e9, GPU: 1}},
		{" cpu = 0.5 , mem=512Mi ", Resources{CPU: 0.5, Mem: 512 << 20}},
		{"cpu=500m", Resources{CPU: 0.5}},
		{"mem=1.5GiB", Resources{Mem: 1.5 * (1 << 30)}},
		{"disk=2T", Resources{Disk: 2e12}},
		{"disk=2TiB", Resources{Disk: 2 << 40}},
		{"mem=3k,disk=3K,x=3KB", Resources{Mem: 3000, Disk: 3000, "x": 3000}},
		{"mem=1024B", Resources{Mem: 1024}},
		{"mem=1e3", Resources{Mem: 1000}},
		{"licence=3", Resources{"licence": 3}},
		{"gpu=0", Resources{}},
	} {
		got, err := ParseResources(tc.in)
		if err != nil {
			t.Errorf("ParseResources(%q): %v", tc.in, err)
			continue
		}
		if !got.Equal(tc.want) {
			t.Errorf("ParseResources(%q) = %v, want %v", tc.in, map[string]float64(got), map[string]float64(tc.want))
		}
	}
}

func TestParseResourcesErrors(t *testing.T) {
	for _, tc := range []struct {
		in, names string
	}{
		{"cpu", `"cpu"`},
		{"cpu=", "cpu"},
		{"cpu=-1", "cpu"},
		{"cpu=NaN", "cpu"},
		{"cpu=inf", "cpu"},
		{"mem=8XB", `"XB"`},
		{"mem=8Gx", `"Gx"`},
		{"mem=8iB", `"iB"`},
		{"mem=1e400", "mem"},
		{"=1", `""`},
		{"Cpu=1", `"Cpu"`},
		{"cpu=1,cpu=2", "cpu"},
		{"cpu=1,,mem=1", `""`},
		{"cpu=1x2", "cpu"},
	} {
		got, err := ParseResources(tc.in)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.names) {
			t.Errorf("ParseResources(%q) = %v, %v; want ErrInvalid naming %s", tc.in, got, err, tc.names)
		}
	}
}

func TestFormatRoundTrip(t *testing.T) {
	r := Resources{CPU: 0.1 + 0.2, Mem: 1<<33 + 1, GPU: 1, "x-y": math.SmallestNonzeroFloat64}
	got, err := ParseResources(r.Format())
	if err != nil || !got.Equal(r) {
		t.Errorf("ParseResources(%q) = %v, %v; want %v", r.Format(), got, err, map[string]float64(r))
	}
	var flagValue Resources
	if err := flagValue.Set("cpu=2"); err != nil || !flagValue.Equal(Resources{CPU: 2}) {
		t.Errorf("Set: %v, %v", flagValue, err)
	}
	if err := flagValue.Set("cpu=-2"); err == nil || !flagValue.Equal(Resources{CPU: 2}) {
		t.Errorf("Set of a bad value: err %v, value %v; want an error and the value unchanged", err, flagValue)
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		r    Resources
		want string
	}{
		{Resources{CPU: 8, Mem: 32 << 30}, "cpu=8,mem=32GiB"},
		{Resources{Mem: 1.5 * (1 << 30), Disk: 1e9}, "mem=1536MiB,disk=1000000000"},
		{Resources{CPU: 0.5, Mem: 1<<33 + 1}, "cpu=0.5,mem=8589934593"},
		{Resources{GPU: 1024, "x": 1e300}, "gpu=1024,x=1e+300"},
	} {
		if got := tc.r.Format(); got != tc.want {
			t.Errorf("Format(%v) = %q, want %q", map[string]float64(tc.r), got, tc.want)
		}
	}
}

func FuzzParseResources(f *testing.F) {
	for _, s := range []string{"cpu=2,mem=8GiB,disk=100GB,gpu=1", "cpu=500m", "mem=1e3Ki", "x=1,y=2", "", "=", "cpu=--1", "mem=1.5.5G"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseResources(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseResources(%q): error %v is not ErrInvalid", s, err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("ParseResources(%q) = %v, which does not validate: %v", s, map[string]float64(r), err)
		}
		again, err := ParseResources(r.Format())
		if err != nil || !again.Equal(r) {
			t.Fatalf("round trip of %q through %q: %v, %v", s, r.Format(), again, err)
		}
		_ = r.String()
	})
}
