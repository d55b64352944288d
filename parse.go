package ebb

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseResources parses the text form of Resources used by flow files and
// the command line: comma-separated key=quantity pairs, as in
//
//	cpu=2,mem=8GiB,disk=100GB,gpu=1
//
// A quantity is a decimal number followed by an optional unit: binary
// (Ki, Mi, Gi, Ti, Pi, with or without a trailing B), decimal (k or K, M, G,
// T, P, with or without a trailing B), B for bytes, or m for thousandths
// (500m cpu is half a core, as in Kubernetes). Spaces around pairs are
// ignored; an empty string is empty Resources. Errors wrap [ErrInvalid] and
// name the pair at fault.
func ParseResources(s string) (Resources, error) {
	r := Resources{}
	if strings.TrimSpace(s) == "" {
		return r, nil
	}
	for pair := range strings.SplitSeq(s, ",") {
		pair = strings.TrimSpace(pair)
		key, val, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Errorf("resource %q: want key=quantity: %w", pair, ErrInvalid)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if err := ValidKey(key); err != nil {
			return nil, err
		}
		if _, dup := r[key]; dup {
			return nil, fmt.Errorf("resource %s: given twice: %w", key, ErrInvalid)
		}
		q, err := ParseQuantity(val)
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", key, err)
		}
		r[key] = q
	}
	return r, nil
}

// ParseQuantity parses one quantity with an optional unit, as described at
// [ParseResources]. The result is finite and not negative, or the error
// wraps [ErrInvalid].
func ParseQuantity(s string) (float64, error) {
	i := len(s)
	for i > 0 && isLetter(s[i-1]) {
		i--
	}
	num, unit := s[:i], s[i:]
	mult, ok := unitMultiplier(unit)
	if !ok {
		return 0, fmt.Errorf("quantity %q: unknown unit %q: %w", s, unit, ErrInvalid)
	}
	if num == "" {
		return 0, fmt.Errorf("quantity %q: no number: %w", s, ErrInvalid)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("quantity %q: not a number: %w", s, ErrInvalid)
	}
	v *= mult
	if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("quantity %q: must be finite and not negative: %w", s, ErrInvalid)
	}
	return v, nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func unitMultiplier(unit string) (float64, bool) {
	switch unit {
	case "", "B":
		return 1, true
	case "m":
		return 1e-3, true
	}
	base := strings.TrimSuffix(unit, "B")
	if bin, ok := strings.CutSuffix(base, "i"); ok {
		if len(bin) != 1 {
			return 0, false
		}
		p := strings.IndexByte("KMGTP", bin[0])
		if p < 0 {
			return 0, false
		}
		return math.Pow(1024, float64(p+1)), true
	}
	switch base {
	case "k", "K":
		return 1e3, true
	case "M":
		return 1e6, true
	case "G":
		return 1e9, true
	case "T":
		return 1e12, true
	case "P":
		return 1e15, true
	}
	return 0, false
}

// Format returns r in the form ParseResources reads, exactly: every
// quantity in full precision, keys in the order of Keys. Whole numbers are
// written out in digits, and mem and disk, when a whole number of KiB,
// MiB, GiB, TiB or PiB, in the largest such unit ("mem=32GiB"), so that a
// worker's command line reads well. For valid Resources,
// ParseResources(r.Format()) is Equal to r.
func (r Resources) Format() string {
	var b []byte
	for i, k := range r.Keys() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, k...)
		b = append(b, '=')
		b = appendQuantity(b, k, r[k])
	}
	return string(b)
}

// appendQuantity appends v as Format writes the quantity of key k.
func appendQuantity(b []byte, k string, v float64) []byte {
	const exact = 1 << 53 // whole numbers up to here are exact in a float64
	if v != math.Trunc(v) || math.Abs(v) >= exact {
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	if (k == Mem || k == Disk) && v > 0 {
		for _, u := range []struct {
			suffix string
			size   float64
		}{{"PiB", 1 << 50}, {"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
			if n := v / u.size; n == math.Trunc(n) {
				return append(strconv.AppendFloat(b, n, 'f', -1, 64), u.suffix...)
			}
		}
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// Set parses s with ParseResources and replaces *r with the result, so that
// *Resources is a flag.Value.
func (r *Resources) Set(s string) error {
	v, err := ParseResources(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}
