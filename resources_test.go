package ebb

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestArithmetic(t *testing.T) {
	a := Resources{CPU: 4, Mem: 8 << 30}
	b := Resources{CPU: 1, Mem: 16 << 30, GPU: 1}
	for _, tc := range []struct {
		name      string
		got, want Resources
	}{
		{"add", a.Add(b), Resources{CPU: 5, Mem: 24 << 30, GPU: 1}},
		{"sub", a.Sub(b), Resources{CPU: 3, Mem: -8 << 30, GPU: -1}},
		{"min", a.Min(b), Resources{CPU: 1, Mem: 8 << 30}},
		{"max", a.Max(b), Resources{CPU: 4, Mem: 16 << 30, GPU: 1}},
		{"scale", a.Scale(0.5), Resources{CPU: 2, Mem: 4 << 30}},
		{"scale zero", a.Scale(0), Resources{}},
		{"add nil", Resources(nil).Add(a), a},
		{"sub self", a.Sub(a), nil},
	} {
		if !tc.got.Equal(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestMissingKeyIsZero(t *testing.T) {
	if !(Resources{CPU: 2, GPU: 0}).Equal(Resources{CPU: 2}) {
		t.Error("explicit zero differs from a missing key")
	}
	if (Resources{CPU: 2}).Equal(Resources{CPU: 2, GPU: 1}) {
		t.Error("Equal ignores a key present only in its argument")
	}
	if !(Resources{GPU: 0}).IsZero() || !Resources(nil).IsZero() || (Resources{Disk: 1}).IsZero() {
		t.Error("IsZero wrong")
	}
	if got := (Resources{CPU: 1, GPU: 0}).Clone(); len(got) != 1 {
		t.Errorf("Clone kept a zero entry: %v", map[string]float64(got))
	}
}

func TestFits(t *testing.T) {
	machine := Resources{CPU: 8, Mem: 32 << 30, Disk: 100 << 30}
	for _, tc := range []struct {
		r    Resources
		want bool
	}{
		{nil, true},
		{Resources{CPU: 8}, true},
		{Resources{CPU: 8.5}, false},
		{Resources{CPU: 1, Mem: 32 << 30, Disk: 100 << 30}, true},
		{Resources{GPU: 1}, false},
		{Resources{"licence": 1}, false},
		{Resources{GPU: 0}, true},
	} {
		if got := tc.r.Fits(machine); got != tc.want {
			t.Errorf("%v fits %v = %v, want %v", tc.r, machine, got, tc.want)
		}
	}
}

// Capacity handed out in odd fractions and returned must fit again, despite
// floating-point rounding.
func TestFitsAfterRoundTrip(t *testing.T) {
	total := Resources{CPU: 1}
	free := total
	parts := []Resources{{CPU: 0.1}, {CPU: 0.2}, {CPU: 0.3}, {CPU: 0.4}}
	for _, p := range parts {
		if !p.Fits(free) {
			t.Fatalf("%v does not fit in %v", p, free)
		}
		free = free.Sub(p)
	}
	for _, p := range parts {
		free = free.Add(p)
	}
	if !total.Fits(free) {
		t.Errorf("whole capacity %v does not fit after a round trip: free %v", total, map[string]float64(free))
	}
}

// No method may alias its receiver or its arguments.
func TestNoAliasing(t *testing.T) {
	ops := map[string]func(a, b Resources) Resources{
		"Add":   Resources.Add,
		"Sub":   Resources.Sub,
		"Min":   Resources.Min,
		"Max":   Resources.Max,
		"Scale": func(a, _ Resources) Resources { return a.Scale(1) },
		"Clone": func(a, _ Resources) Resources { return a.Clone() },
	}
	for name, op := range ops {
		a := Resources{CPU: 2, Mem: 1 << 30}
		b := Resources{CPU: 1, GPU: 1}
		out := op(a, b)
		out[CPU] = 99
		out["new"] = 1
		if a[CPU] != 2 || b[CPU] != 1 || len(a) != 2 || len(b) != 2 {
			t.Errorf("%s: writing the result changed an operand: a=%v b=%v", name, a, b)
		}
	}
}

func TestSizeCountsEveryKey(t *testing.T) {
	base := Resources{CPU: 2, Mem: 4 << 30}
	for _, extra := range []Resources{{Disk: 1 << 30}, {GPU: 1}, {"licence": 1}, {CPU: 1}, {Mem: 1}} {
		if !(base.Add(extra).Size() > base.Size()) {
			t.Errorf("adding %v does not grow Size", extra)
		}
	}
	if got, want := (Resources{CPU: 1}).Size(), (Resources{Mem: 4 << 30}).Size(); got != want {
		t.Errorf("1 cpu weighs %v, 4 GiB weighs %v; want equal", got, want)
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct {
		r    Resources
		want string
	}{
		{nil, "none"},
		{Resources{CPU: 4, Mem: 8 << 30}, "4 cpu, 8.0 GiB mem"},
		{Resources{"zz": 3, GPU: 1, Disk: 100 << 30, CPU: 0.5, "aa": 1}, "0.5 cpu, 100.0 GiB disk, 1 gpu, 1 aa, 3 zz"},
		{Resources{Mem: 512}, "512 B mem"},
		{Resources{Mem: 1536}, "1.5 KiB mem"},
		{Resources{Mem: 2.8006765909333335}, "2.801 B mem"},
		{Resources{Disk: 1023.5}, "1023.5 B disk"},
		{Resources{Mem: 0.000123456}, "0.000123 B mem"},
		{Resources{CPU: 0}, "none"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("String(%v) = %q, want %q", map[string]float64(tc.r), got, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		r    Resources
		want string // substring of the error; "" for valid
	}{
		{Resources{CPU: 1, "my-licence/v2": 3}, ""},
		{Resources{CPU: -1}, "cpu"},
		{Resources{Mem: math.NaN()}, "mem"},
		{Resources{Disk: math.Inf(1)}, "disk"},
		{Resources{"": 1}, `""`},
		{Resources{"CPU": 1}, `"CPU"`},
		{Resources{"a b": 1}, `"a b"`},
		{Resources{"9lives": 1}, `"9lives"`},
	} {
		err := tc.r.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Validate(%v) = %v, want nil", map[string]float64(tc.r), err)
		case tc.want != "" && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Validate(%v) = %v, want ErrInvalid naming %s", map[string]float64(tc.r), err, tc.want)
		}
	}
}

func TestStringRounds(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{2, "2 cpu"}, {0.5, "0.5 cpu"}, {0.1 + 0.2, "0.3 cpu"}, {1.23456, "1.235 cpu"},
		{0.0014594, "0.00146 cpu"}, {123456789, "123456789 cpu"}, {1e20, "1e+20 cpu"}, {0.05, "0.05 cpu"},
	} {
		if got := (Resources{CPU: tc.v}).String(); got != tc.want {
			t.Errorf("String(%v cpu) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
