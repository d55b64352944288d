package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/ebbflow/ebb"
)

// CheckDistinct reports, as an error wrapping ebb.ErrInvalid, the first
// workload of ws that repeats an earlier one: by name (a report finds
// results by workload name, so two of one name would mix), or by
// content (the same tasks, as when one trace is given twice under two
// file names). The error names both workloads and where they came from.
func CheckDistinct(ws []*Workload) error {
	names := map[string]*Workload{}
	sums := map[[sha256.Size]byte]*Workload{}
	for _, w := range ws {
		if o, dup := names[w.Name]; dup {
			return fmt.Errorf("workload %s (%s): given twice (also %s): %w", w.Name, orUnknown(w.Source), orUnknown(o.Source), ebb.ErrInvalid)
		}
		names[w.Name] = w
		sum := fingerprint(w)
		if o, dup := sums[sum]; dup {
			return fmt.Errorf("workload %s (%s): same tasks as %s (%s): the same trace given twice: %w",
				w.Name, orUnknown(w.Source), o.Name, orUnknown(o.Source), ebb.ErrInvalid)
		}
		sums[sum] = w
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "source unknown"
	}
	return s
}

// fingerprint hashes what a simulation of w depends on: its tasks.
func fingerprint(w *Workload) [sha256.Size]byte {
	h := sha256.New()
	var b [8]byte
	num := func(x int64) {
		binary.LittleEndian.PutUint64(b[:], uint64(x))
		h.Write(b[:])
	}
	str := func(s string) {
		num(int64(len(s)))
		io.WriteString(h, s)
	}
	num(int64(len(w.Tasks)))
	for _, t := range w.Tasks {
		str(t.ID)
		str(t.Kind)
		num(int64(t.Arrival))
		num(int64(t.Duration))
		str(t.Resources.Format())
		num(int64(len(t.Deps)))
		for _, d := range t.Deps {
			num(int64(d))
		}
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}
