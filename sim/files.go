package sim

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// fileName turns a workload name into a file name.
func fileName(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}

// WriteFiles writes the report into dir (made if missing): report.json,
// table.txt (WriteText: the table and the comparison), and for each workload NAME-capacity.svg (when the results
// have timelines) and NAME-pareto.svg. It returns the paths written.
func (r *Report) WriteFiles(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	write := func(name string, f func(io.Writer) error) error {
		p, err := writeFile(dir, name, f)
		if err == nil {
			paths = append(paths, p)
		}
		return err
	}
	if err := write("report.json", r.WriteJSON); err != nil {
		return paths, err
	}
	if err := write("table.txt", r.WriteText); err != nil {
		return paths, err
	}
	for _, wl := range r.Workloads {
		rs := r.Of(wl.Name)
		if len(rs) == 0 {
			continue
		}
		base := fileName(wl.Name)
		if slices.ContainsFunc(rs, func(x *Result) bool { return len(x.Timeline) > 0 }) {
			if err := write(base+"-capacity.svg", func(w io.Writer) error { return writeCapacitySVG(w, wl.Name, rs, r.highlight()) }); err != nil {
				return paths, err
			}
		}
		if err := write(base+"-pareto.svg", func(w io.Writer) error { return writeParetoSVG(w, wl.Name, rs, r.highlight()) }); err != nil {
			return paths, err
		}
	}
	return paths, nil
}

// highlight returns the policy the plots single out: the one the report
// sets against the others, else ebb's default.
func (r *Report) highlight() string {
	if r.Against != "" {
		return r.Against
	}
	return "default"
}

// WriteFiles writes the summary into dir (made if missing): summary.txt
// (WriteText) and summary.json (WriteJSON). It returns the paths written.
func (s *Summary) WriteFiles(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, f := range []struct {
		name  string
		write func(io.Writer) error
	}{{"summary.txt", s.WriteText}, {"summary.json", s.WriteJSON}} {
		p, err := writeFile(dir, f.name, f.write)
		if err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// writeFile writes what f writes into dir/name and returns its path.
func writeFile(dir, name string, f func(io.Writer) error) (string, error) {
	p := filepath.Join(dir, name)
	var b strings.Builder
	if err := f(&b); err != nil {
		return "", err
	}
	return p, os.WriteFile(p, []byte(b.String()), 0o644)
}
