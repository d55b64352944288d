package ebb

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Labels are key-value pairs that travel with an allocation request and the
// alloc it yields: the run ID, the program, the user. Clusters pass them on
// to the engines they launch workers on (a Slurm job comment, Kubernetes pod
// labels), so they are kept small and plain.
//
// The zero value (nil) is empty and ready to use. Methods return fresh maps.
type Labels map[string]string

// Clone returns a copy of l.
func (l Labels) Clone() Labels {
	out := make(Labels, len(l))
	maps.Copy(out, l)
	return out
}

// Merge returns l with the pairs of m added; m wins where both have a key.
func (l Labels) Merge(m Labels) Labels {
	out := l.Clone()
	maps.Copy(out, m)
	return out
}

// String returns the labels as "k1=v1,k2=v2", keys in lexical order.
func (l Labels) String() string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(l)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(l[k])
	}
	return b.String()
}

// Validate returns an error wrapping [ErrInvalid] naming the first bad
// label: a key that is empty, longer than 63 bytes or holds anything but
// letters, digits, '_', '-', '.' and '/'; or a value longer than 255 bytes
// or holding a control character, ',' or '='.
func (l Labels) Validate() error {
	for _, k := range slices.Sorted(maps.Keys(l)) {
		if k == "" || len(k) > 63 || strings.IndexFunc(k, badKeyRune) >= 0 {
			return fmt.Errorf("label key %q: want 1 to 63 letters, digits, _ - . /: %w", k, ErrInvalid)
		}
		v := l[k]
		if len(v) > 255 || strings.IndexFunc(v, badValueRune) >= 0 {
			return fmt.Errorf("label %s=%q: want at most 255 bytes without control characters, ',' or '=': %w", k, v, ErrInvalid)
		}
	}
	return nil
}

func badKeyRune(c rune) bool {
	return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '/')
}

func badValueRune(c rune) bool {
	return c < 0x20 || c == 0x7f || c == ',' || c == '='
}
