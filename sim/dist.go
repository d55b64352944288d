package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
)

// DistKind names the family of a [Dist].
type DistKind string

// The distributions a boot latency can follow.
const (
	// Fixed: always A.
	Fixed DistKind = "fixed"
	// Uniform: uniform on [A, B].
	Uniform DistKind = "uniform"
	// LogNormal: median A, shape Sigma (the standard deviation of the
	// logarithm), truncated to [A·e^(−3σ), A·e^(3σ)] so that it has a
	// least value (the lower bound of [LowerBound] needs one) and no
	// absurd draws; the truncation drops 0.27 % of the mass.
	LogNormal DistKind = "lognormal"
	// Exponential: mean A, truncated at 10·A. Its least value is 0.
	Exponential DistKind = "exp"
)

// A Dist is a distribution of durations: how long a worker takes to boot.
// The zero Dist is Fixed at 0 (workers arrive at once). A Dist is a value;
// it draws from the *rand.Rand it is given and keeps no state.
type Dist struct {
	Kind  DistKind
	A, B  time.Duration
	Sigma float64
}

// ParseDist parses the text form of a Dist, as String writes it:
//
//	30s                 fixed at 30 s (also "fixed:30s")
//	uniform:10s,90s     uniform between 10 s and 90 s
//	lognormal:30s,0.3   lognormal, median 30 s, σ 0.3 (truncated at ±3σ)
//	exp:30s             exponential, mean 30 s (truncated at 10× the mean)
//
// Errors wrap ebb.ErrInvalid and name the part at fault.
func ParseDist(s string) (Dist, error) {
	s = strings.TrimSpace(s)
	kind, args, ok := strings.Cut(s, ":")
	if !ok {
		kind, args = string(Fixed), s
	}
	parts := strings.Split(args, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	want := func(n int) error {
		if len(parts) != n {
			return fmt.Errorf("distribution %q: %s takes %d argument(s), got %d: %w", s, kind, n, len(parts), ebb.ErrInvalid)
		}
		return nil
	}
	dur := func(i int) (time.Duration, error) {
		d, err := time.ParseDuration(parts[i])
		if err != nil {
			return 0, fmt.Errorf("distribution %q: duration %q: %w", s, parts[i], ebb.ErrInvalid)
		}
		return d, nil
	}
	var d Dist
	var err error
	switch DistKind(kind) {
	case Fixed, Exponential:
		if err = want(1); err != nil {
			return Dist{}, err
		}
		d.Kind = DistKind(kind)
		d.A, err = dur(0)
	case Uniform:
		if err = want(2); err != nil {
			return Dist{}, err
		}
		d.Kind = Uniform
		if d.A, err = dur(0); err == nil {
			d.B, err = dur(1)
		}
	case LogNormal:
		if err = want(2); err != nil {
			return Dist{}, err
		}
		d.Kind = LogNormal
		if d.A, err = dur(0); err == nil {
			d.Sigma, err = strconv.ParseFloat(parts[1], 64)
			if err != nil {
				err = fmt.Errorf("distribution %q: sigma %q: %w", s, parts[1], ebb.ErrInvalid)
			}
		}
	default:
		return Dist{}, fmt.Errorf("distribution %q: unknown kind %q (fixed, uniform, lognormal, exp): %w", s, kind, ebb.ErrInvalid)
	}
	if err != nil {
		return Dist{}, err
	}
	if err := d.Validate(); err != nil {
		return Dist{}, err
	}
	return d, nil
}

// Validate returns an error wrapping ebb.ErrInvalid when d's parameters
// are out of range: negative durations, B below A, a negative or
// non-finite Sigma, or an unknown Kind.
func (d Dist) Validate() error {
	switch d.Kind {
	case "", Fixed, Exponential, Uniform, LogNormal:
	default:
		return fmt.Errorf("distribution kind %q: unknown: %w", d.Kind, ebb.ErrInvalid)
	}
	if d.A < 0 || d.B < 0 {
		return fmt.Errorf("distribution %s: durations must not be negative: %w", d, ebb.ErrInvalid)
	}
	if d.Kind == Uniform && d.B < d.A {
		return fmt.Errorf("distribution %s: upper bound below lower: %w", d, ebb.ErrInvalid)
	}
	if d.Kind == LogNormal && (d.Sigma < 0 || math.IsNaN(d.Sigma) || math.IsInf(d.Sigma, 0) || d.Sigma > 5) {
		return fmt.Errorf("distribution %s: sigma must be in [0, 5]: %w", d, ebb.ErrInvalid)
	}
	return nil
}

// String returns d in the form ParseDist reads.
func (d Dist) String() string {
	switch d.Kind {
	case Uniform:
		return fmt.Sprintf("uniform:%v,%v", d.A, d.B)
	case LogNormal:
		return fmt.Sprintf("lognormal:%v,%s", d.A, strconv.FormatFloat(d.Sigma, 'g', -1, 64))
	case Exponential:
		return fmt.Sprintf("exp:%v", d.A)
	}
	return d.A.String()
}

// Min returns the least value d can draw.
func (d Dist) Min() time.Duration {
	switch d.Kind {
	case Uniform:
		return d.A
	case LogNormal:
		return time.Duration(float64(d.A) * math.Exp(-3*d.Sigma))
	case Exponential:
		return 0
	}
	return d.A
}

// Sample draws one value from d with r.
func (d Dist) Sample(r *rand.Rand) time.Duration {
	switch d.Kind {
	case Uniform:
		return d.A + time.Duration(r.Float64()*float64(d.B-d.A))
	case LogNormal:
		z := max(-3, min(3, r.NormFloat64()))
		return time.Duration(float64(d.A) * math.Exp(d.Sigma*z))
	case Exponential:
		return time.Duration(min(10, r.ExpFloat64()) * float64(d.A))
	}
	return d.A
}
