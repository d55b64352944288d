package ebb

import (
	"errors"
	"testing"
)

func TestRequirementsMax(t *testing.T) {
	min := Resources{CPU: 2, Mem: 4 << 30}
	for _, w := range []int{0, 1} {
		if got := (Requirements{Min: min, Width: w}).Max(); !got.Equal(min) {
			t.Errorf("width %d: Max = %v, want Min %v", w, got, min)
		}
	}
	if got, want := (Requirements{Min: min, Width: 3}).Max(), min.Scale(3); !got.Equal(want) {
		t.Errorf("width 3: Max = %v, want %v", got, want)
	}
}

func TestSerialParallel(t *testing.T) {
	small := Requirements{Min: Resources{CPU: 1, Mem: 8 << 30}}
	big := Requirements{Min: Resources{CPU: 4, Mem: 2 << 30}, Width: 2}
	if got, want := small.Serial(big), (Requirements{Min: Resources{CPU: 4, Mem: 8 << 30}, Width: 2}); !got.Equal(want) {
		t.Errorf("Serial = %v, want %v", got, want)
	}
	par := small.Parallel(big)
	if want := (Requirements{Min: Resources{CPU: 4, Mem: 8 << 30}, Width: 3}); !par.Equal(want) {
		t.Errorf("Parallel = %v, want %v", par, want)
	}
	// Parallel's Max covers both Maxes side by side.
	if both := small.Max().Add(big.Max()); !both.Fits(par.Max()) {
		t.Errorf("Parallel Max %v does not cover %v", par.Max(), both)
	}
	var zero Requirements
	if got := zero.Parallel(big); !got.Equal(big) {
		t.Errorf("zero.Parallel(big) = %v, want %v", got, big)
	}
	if got := big.Parallel(zero); !got.Equal(big) {
		t.Errorf("big.Parallel(zero) = %v, want %v", got, big)
	}
	if !(Requirements{Width: 1}).Equal(Requirements{}) {
		t.Error("width 1 and width 0 differ")
	}
}

func TestRequirementsValidate(t *testing.T) {
	if err := (Requirements{Min: Resources{CPU: 1}, Width: -1}).Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("negative width: %v, want ErrInvalid", err)
	}
	if err := (Requirements{Min: Resources{CPU: -1}}).Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("negative cpu: %v, want ErrInvalid", err)
	}
	if got := (Requirements{Min: Resources{CPU: 2}, Width: 4}).String(); got != "2 cpu ×4" {
		t.Errorf("String = %q", got)
	}
}
