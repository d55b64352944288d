package command

import (
	"fmt"
	"math"
	"strings"
	"text/template"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
)

// workerArg is the argument that stands for the worker's whole command
// line, one argument per word.
const workerArg = "{{.Worker}}"

// argv is a command: one template per argument, or nil where the
// argument is workerArg.
type argv struct {
	field string // "Start", "List", "Stop": for errors
	args  []*template.Template
}

// commands are the provider's parsed commands.
type commands struct {
	start, list, stop argv
}

// parseCommands parses the three commands' templates. Start and Stop are
// required; a template that does not parse, or that names a field the
// data lacks, fails with ebb.ErrInvalid naming the command and argument.
func parseCommands(start, list, stop []string) (*commands, error) {
	var c commands
	for _, f := range []struct {
		name     string
		in       []string
		out      *argv
		required bool
	}{
		{"Start", start, &c.start, true},
		{"List", list, &c.list, false},
		{"Stop", stop, &c.stop, true},
	} {
		f.out.field = f.name
		if len(f.in) == 0 {
			if f.required {
				return nil, fmt.Errorf("command: Config.%s: no command given: %w", f.name, ebb.ErrInvalid)
			}
			continue
		}
		if f.in[0] == "" || f.in[0] == workerArg {
			return nil, fmt.Errorf("command: Config.%s[0] %q: want a program: %w", f.name, f.in[0], ebb.ErrInvalid)
		}
		for i, s := range f.in {
			if s == workerArg {
				f.out.args = append(f.out.args, nil)
				continue
			}
			t, err := template.New(fmt.Sprintf("%s[%d]", f.name, i)).Option("missingkey=error").Parse(s)
			if err != nil {
				return nil, fmt.Errorf("command: Config.%s[%d] %q: %v: %w", f.name, i, s, err, ebb.ErrInvalid)
			}
			f.out.args = append(f.out.args, t)
		}
		// Rendering sample data finds the fields that do not exist now,
		// rather than at the first launch.
		if _, err := f.out.render(sampleData); err != nil {
			return nil, err
		}
	}
	return &c, nil
}

// data is what a command's templates see; see the package doc.
type data struct {
	ID       string
	Handle   string
	Shape    cluster.Shape
	CPU      float64
	Mem      int64
	MemMiB   int64
	MemGiB   int64
	Labels   ebb.Labels
	Worker   []string
	WorkerSh string
}

var sampleData = newData("ebb-0-0", "", cluster.Shape{Name: "sample", Resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 1 << 30}}, ebb.Labels{}, []string{"ebb", "worker"})

func newData(id, handle string, shape cluster.Shape, labels ebb.Labels, worker []string) data {
	mem := shape.Resources[ebb.Mem]
	return data{
		ID:       id,
		Handle:   handle,
		Shape:    shape,
		CPU:      shape.Resources[ebb.CPU],
		Mem:      int64(math.Ceil(mem)),
		MemMiB:   int64(math.Ceil(mem / (1 << 20))),
		MemGiB:   int64(math.Ceil(mem / (1 << 30))),
		Labels:   labels,
		Worker:   worker,
		WorkerSh: shellWords(worker),
	}
}

// render fills in a's templates with d.
func (a argv) render(d data) ([]string, error) {
	var out []string
	for i, t := range a.args {
		if t == nil {
			out = append(out, d.Worker...)
			continue
		}
		var b strings.Builder
		if err := t.Execute(&b, d); err != nil {
			return nil, fmt.Errorf("command: Config.%s[%d]: %v: %w", a.field, i, err, ebb.ErrInvalid)
		}
		out = append(out, b.String())
	}
	return out, nil
}

// shellWords joins words into one POSIX shell word list, each word
// single-quoted, so that a shell reading it gets the words back as they
// are.
func shellWords(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
