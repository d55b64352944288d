package ebb

import (
	"fmt"
)

// Requirements say what a piece of work needs: Min, the resources without
// which it cannot run at all, and Width, how many Min-sized units it can
// use at once. Max is Min × max(1, Width); Width 0 and 1 both mean exactly
// Min. An allocation that satisfies Requirements holds at least Min and is
// sized up to Max.
//
// The zero value needs nothing. Requirements are values: every method
// returns a fresh one and leaves its receiver and arguments alone.
type Requirements struct {
	Min   Resources `json:"min,omitempty"`
	Width int       `json:"width,omitempty"`
}

// Max returns Min × max(1, Width): the most that is useful.
func (r Requirements) Max() Resources {
	return r.Min.Scale(float64(r.width()))
}

// width is Width with 0 read as 1.
func (r Requirements) width() int { return max(1, r.Width) }

// IsZero reports whether r needs nothing.
func (r Requirements) IsZero() bool { return r.Min.IsZero() && r.Width <= 1 }

// Serial returns the requirements of r and s run one after the other: the
// larger Min key by key, and the larger width.
func (r Requirements) Serial(s Requirements) Requirements {
	return Requirements{Min: r.Min.Max(s.Min), Width: max(r.Width, s.Width)}
}

// Parallel returns the requirements of r and s run side by side: the larger
// Min key by key, and the widths added, so that Max covers both Maxes. A
// zero Requirements adds nothing: r.Parallel(Requirements{}) equals r.
func (r Requirements) Parallel(s Requirements) Requirements {
	switch {
	case s.IsZero():
		return Requirements{Min: r.Min.Clone(), Width: r.Width}
	case r.IsZero():
		return Requirements{Min: s.Min.Clone(), Width: s.Width}
	}
	return Requirements{Min: r.Min.Max(s.Min), Width: r.width() + s.width()}
}

// Equal reports whether r and s need the same, reading Width 0 as 1.
func (r Requirements) Equal(s Requirements) bool {
	return r.Min.Equal(s.Min) && r.width() == s.width()
}

// Validate returns an error wrapping [ErrInvalid] when Min is invalid (see
// [Resources.Validate]) or Width is negative.
func (r Requirements) Validate() error {
	if err := r.Min.Validate(); err != nil {
		return fmt.Errorf("requirements min: %w", err)
	}
	if r.Width < 0 {
		return fmt.Errorf("requirements width %d: must not be negative: %w", r.Width, ErrInvalid)
	}
	return nil
}

// String reads like "2 cpu, 4.0 GiB mem" or, when Width is above 1,
// "2 cpu, 4.0 GiB mem ×8".
func (r Requirements) String() string {
	if r.Width > 1 {
		return fmt.Sprintf("%s ×%d", r.Min, r.Width)
	}
	return r.Min.String()
}
