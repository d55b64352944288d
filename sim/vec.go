package sim

import (
	"encoding/binary"
	"math"

	"github.com/ebbflow/ebb"
)

// fitUnits returns how many units of shape fit side by side in c, at most
// limit (ebb.Requirements.UnitsIn). A shape that needs nothing fits limit
// times.
func fitUnits(shape, c ebb.Resources, limit int) int {
	if limit <= 0 {
		return 0
	}
	return ebb.Requirements{Min: shape, Width: limit}.UnitsIn(c)
}

// A space maps resource keys to the dimensions of dense vectors, so that
// the simulator's inner loop works on []float64 and not on maps.
type space struct {
	keys    []string
	index   map[string]int
	weights []float64 // per dimension, as ebb.Resources.Size weighs it
	cpu     int       // dimension of ebb.CPU, or -1
}

func newSpace() *space { return &space{index: map[string]int{}, cpu: -1} }

// add makes room for r's keys.
func (s *space) add(r ebb.Resources) {
	for _, k := range r.Keys() {
		if _, ok := s.index[k]; ok {
			continue
		}
		s.index[k] = len(s.keys)
		s.keys = append(s.keys, k)
		s.weights = append(s.weights, ebb.Resources{k: 1}.Size())
		if k == ebb.CPU {
			s.cpu = len(s.keys) - 1
		}
	}
}

// vec returns r as a vector; keys not in s are dropped (callers add them
// first).
func (s *space) vec(r ebb.Resources) []float64 {
	v := make([]float64, len(s.keys))
	for k, q := range r {
		if i, ok := s.index[k]; ok {
			v[i] = q
		}
	}
	return v
}

// res returns v as Resources, zero entries left out.
func (s *space) res(v []float64) ebb.Resources {
	r := make(ebb.Resources, len(v))
	for i, q := range v {
		if q != 0 {
			r[s.keys[i]] = q
		}
	}
	return r
}

func (s *space) size(v []float64) float64 {
	var t float64
	for i, q := range v {
		t += q * s.weights[i]
	}
	return t
}

func (s *space) cpuOf(v []float64) float64 {
	if s.cpu < 0 {
		return 0
	}
	return v[s.cpu]
}

// fits reports whether need fits in free, within ebb.Tolerance.
func fits(need, free []float64) bool {
	return count(need, free, 1) == 1
}

// count returns how many of need fit in free, at most limit, as
// ebb.Requirements.UnitsIn counts them.
func count(need, free []float64, limit int) int {
	n := max(0, limit)
	for i, q := range need {
		if q > 0 && n > 0 {
			n = ebb.QuantityUnits(q, free[i], n)
		}
	}
	return n
}

// empty reports whether v holds nothing worth placing on.
func empty(v []float64) bool {
	for _, q := range v {
		if q > 1e-9 {
			return false
		}
	}
	return true
}

// key returns a map key that is equal for equal vectors.
func key(buf []byte, v []float64) []byte {
	buf = buf[:0]
	for _, q := range v {
		if q == 0 {
			q = 0 // fold −0 into 0
		}
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(q))
	}
	return buf
}
