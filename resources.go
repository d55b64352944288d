package ebb

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Well-known resource keys. Any other key names a custom resource (a
// licence, a local SSD, a software feature) counted in its own units.
const (
	CPU  = "cpu"  // cores; fractions allowed
	Mem  = "mem"  // bytes of memory
	Disk = "disk" // bytes of scratch disk
	GPU  = "gpu"  // devices
)

// Resources are named quantities: [CPU] in cores, [Mem] and [Disk] in bytes,
// [GPU] in devices, and any custom key in its own units. A missing key is 0,
// always: Resources{"cpu": 2} and Resources{"cpu": 2, "gpu": 0} are Equal.
//
// The zero value (nil) holds nothing and is ready to use. Every method
// returns a fresh map and none modifies its receiver or arguments, so a
// Resources value may be shared between goroutines as long as nobody writes
// to the map itself. Quantities are valid when finite and not negative;
// [Resources.Validate] checks that, and every ebb API that takes Resources
// from a user calls it.
type Resources map[string]float64

// Clone returns a copy of r with its zero entries dropped.
func (r Resources) Clone() Resources {
	out := make(Resources, len(r))
	for k, v := range r {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// Add returns r + s, key by key.
func (r Resources) Add(s Resources) Resources {
	return r.combine(s, func(a, b float64) float64 { return a + b })
}

// Sub returns r - s, key by key. The result may hold negative quantities
// when s does not fit in r; check with Fits first where that matters.
func (r Resources) Sub(s Resources) Resources {
	return r.combine(s, func(a, b float64) float64 { return a - b })
}

// Min returns the smaller quantity of r and s for every key.
func (r Resources) Min(s Resources) Resources { return r.combine(s, math.Min) }

// Max returns the larger quantity of r and s for every key.
func (r Resources) Max(s Resources) Resources { return r.combine(s, math.Max) }

// Scale returns r with every quantity multiplied by f.
func (r Resources) Scale(f float64) Resources {
	out := make(Resources, len(r))
	for k, v := range r {
		if x := v * f; x != 0 {
			out[k] = x
		}
	}
	return out
}

func (r Resources) combine(s Resources, f func(a, b float64) float64) Resources {
	out := make(Resources, max(len(r), len(s)))
	for k, v := range r {
		if x := f(v, s[k]); x != 0 {
			out[k] = x
		}
	}
	for k, v := range s {
		if _, ok := r[k]; ok {
			continue
		}
		if x := f(0, v); x != 0 {
			out[k] = x
		}
	}
	return out
}

// Fits reports whether r fits in s: every quantity of r is at most the
// same key's quantity in s, within [Tolerance], so that capacity that was
// handed out and returned fits again.
func (r Resources) Fits(s Resources) bool {
	for k, v := range r {
		if !leq(v, s[k]) {
			return false
		}
	}
	return true
}

// Equal reports whether r and s hold the same quantity for every key,
// counting a missing key as 0.
func (r Resources) Equal(s Resources) bool {
	for k, v := range r {
		if s[k] != v {
			return false
		}
	}
	for k, v := range s {
		if r[k] != v {
			return false
		}
	}
	return true
}

// IsZero reports whether r holds nothing.
func (r Resources) IsZero() bool {
	for _, v := range r {
		if v != 0 {
			return false
		}
	}
	return true
}

// sizeUnit weighs the well-known keys against each other for Size: one
// unit of each is worth about the same on a typical machine.
func sizeUnit(key string) float64 {
	switch key {
	case Mem:
		return 4 << 30
	case Disk:
		return 64 << 30
	case GPU:
		return 1.0 / 8
	}
	return 1
}

// Size returns a single number that grows with every quantity in r, for
// ordering offers and allocs by how much they hold (best fit takes the
// smallest that satisfies a request). Every key counts: one core weighs as
// much as 4 GiB of memory, 64 GiB of disk or an eighth of a GPU, and a
// custom key weighs one per unit.
func (r Resources) Size() float64 {
	var size float64
	for k, v := range r {
		size += v / sizeUnit(k)
	}
	return size
}

// Keys returns r's keys with a non-zero quantity: the well-known keys first
// (cpu, mem, disk, gpu), then the others in lexical order.
func (r Resources) Keys() []string {
	keys := make([]string, 0, len(r))
	for k, v := range r {
		if v != 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int {
		ra, rb := keyRank(a), keyRank(b)
		if ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	return keys
}

func keyRank(k string) int {
	switch k {
	case CPU:
		return 0
	case Mem:
		return 1
	case Disk:
		return 2
	case GPU:
		return 3
	}
	return 4
}

// Validate returns an error wrapping [ErrInvalid] that names the first bad
// key and its value: a key that is not a valid name (see [ValidKey]), or a
// quantity that is negative, NaN or infinite.
func (r Resources) Validate() error {
	for k, v := range r {
		if validEntry(k, v) != nil {
			// Report the first bad key in lexical order, so that the
			// same input always gets the same message.
			for _, k := range slices.Sorted(maps.Keys(r)) {
				if err := validEntry(k, r[k]); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func validEntry(k string, v float64) error {
	if err := ValidKey(k); err != nil {
		return err
	}
	if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("resource %s=%v: quantity must be finite and not negative: %w", k, v, ErrInvalid)
	}
	return nil
}

// ValidKey returns an error wrapping [ErrInvalid] unless k is a valid
// resource key: 1 to 63 characters of lower-case letters, digits, '_', '-',
// '.' and '/', starting with a letter.
func ValidKey(k string) error {
	if k == "" || len(k) > 63 {
		return fmt.Errorf("resource key %q: must be 1 to 63 characters: %w", k, ErrInvalid)
	}
	for i, c := range k {
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '/'):
		default:
			return fmt.Errorf("resource key %q: character %q not allowed (lower-case letters, digits, _ - . /, starting with a letter): %w", k, c, ErrInvalid)
		}
	}
	return nil
}

// String reads like "4 cpu, 8.0 GiB mem, 100.0 GiB disk": well-known keys
// first, bytes in binary units, other quantities with three decimals at
// most, zero quantities left out. Empty Resources print as "none". Format
// gives the exact text instead.
func (r Resources) String() string {
	keys := r.Keys()
	if len(keys) == 0 {
		return "none"
	}
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		if isBytes(k) {
			b.WriteString(FormatBytes(r[k]))
		} else {
			b.WriteString(formatQuantity(r[k]))
		}
		b.WriteByte(' ')
		b.WriteString(k)
	}
	return b.String()
}

func isBytes(k string) bool { return k == Mem || k == Disk }

// formatQuantity formats a count for people: whole numbers exactly,
// others with three decimals at most, three significant digits below a
// hundredth, and four in exponent form from 10¹⁵ up.
func formatQuantity(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e15:
		return strconv.FormatFloat(v, 'g', 4, 64)
	case v == math.Trunc(v):
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a < 0.01:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	s := strconv.FormatFloat(v, 'f', 3, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// FormatBytes formats a byte count in binary units with one decimal, as in
// "8.0 GiB", and below a KiB as a count of bytes is formatted elsewhere:
// "512 B", and a fraction (a mean, or resource-minutes) rounded to three
// decimals, "2.801 B".
func FormatBytes(n float64) string {
	const units = "KMGTPE"
	if math.Abs(n) < 1024 {
		return formatQuantity(n) + " B"
	}
	i := -1
	for math.Abs(n) >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %ciB", n, units[i])
}
