package ebb

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"unsafe"
)

// A Flow is a graph of tasks: each task runs once the tasks it depends on
// (through its Inputs and After) have succeeded. A Flow is plain data, built
// in Go or read from a flow file; [Flow.Graph] validates it as a whole and
// indexes it for a runner.
//
// A Flow must not be changed while a run uses it.
type Flow struct {
	// Name names the program the flow belongs to, for labels and state.
	Name string `json:"name,omitempty"`
	// Tasks are the flow's nodes, each with a unique name.
	Tasks []Task `json:"tasks"`
}

// Validate checks the flow as a whole and returns one error listing every
// problem (see [Flow.Graph]), or nil.
func (f *Flow) Validate() error {
	_, err := f.Graph()
	return err
}

// Graph is a validated flow, indexed for evaluation. Tasks are referred to
// by their index in Flow.Tasks. A Graph is read-only, and safe for
// concurrent use; it holds no pointer per task (a few arrays of int32
// for the whole flow, and its name index), so that a flow of a million
// tasks costs the garbage collector little.
type Graph struct {
	Flow *Flow
	// Order is a topological order of the tasks: each after its Deps.
	Order []int32

	index nameIndex
	// Task i waits for deps[depsAt[i]:depsAt[i+1]], and is waited for
	// by dependents[dependentsAt[i]:dependentsAt[i+1]].
	depsAt, deps             []int32
	dependentsAt, dependents []int32
}

// Index returns the index in Flow.Tasks of the task named name.
func (g *Graph) Index(name string) (int, bool) { return g.index.find(g.Flow.Tasks, name) }

// Deps returns the distinct tasks that task i waits for, in increasing
// order. The caller must not change it.
func (g *Graph) Deps(i int32) []int32 {
	lo, hi := g.depsAt[i], g.depsAt[i+1]
	return g.deps[lo:hi:hi]
}

// Dependents returns the tasks that wait for task i, in increasing
// order. The caller must not change it.
func (g *Graph) Dependents(i int32) []int32 {
	lo, hi := g.dependentsAt[i], g.dependentsAt[i+1]
	return g.dependents[lo:hi:hi]
}

// Graph validates the flow and indexes it. Its error wraps [ErrInvalid] and
// lists every problem found, one per line: an empty or duplicate task name
// (or one that is not a single path element),
// a task with neither or both of Argv and Func, a Func without FuncKey, bad
// resources or environment, an input with no source or several, an input
// naming a task or output that does not exist, a bad input or output path,
// a dependency on an unknown task, and every cycle, with the tasks in it.
func (f *Flow) Graph() (*Graph, error) {
	var problems []error
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Errorf(format+": %w", append(args, ErrInvalid)...))
	}
	if len(f.Tasks) > 1<<31-2 {
		return nil, fmt.Errorf("flow %s: %d tasks is too many: %w", f.Name, len(f.Tasks), ErrInvalid)
	}
	g := &Graph{Flow: f, index: newNameIndex(len(f.Tasks)), depsAt: make([]int32, len(f.Tasks)+1)}
	for i := range f.Tasks {
		name := f.Tasks[i].Name
		if err := validName(name); err != nil {
			bad("task %d: name %q: %v", i, name, err)
			continue
		}
		if j, ok := g.index.add(f.Tasks, name, i); !ok {
			bad("task %q: name used by tasks %d and %d", name, j, i)
		}
	}
	// The distinct dependencies of all tasks go into one array, in
	// task order: no allocation per task.
	var all []int32
	var valid Resources // the last task's map, when it was valid
	for i := range f.Tasks {
		t := &f.Tasks[i]
		// Tasks built in Go often share one Resources map: it is
		// validated once.
		var resErr error
		if valid == nil || !sameMap(valid, t.Resources) {
			if resErr = t.Resources.Validate(); resErr == nil && t.Resources != nil {
				valid = t.Resources
			}
		}
		for _, p := range t.check(resErr) {
			bad("task %q: %s", t.Name, p)
		}
		start := len(all)
		dep := func(what, name string) {
			j, ok := g.Index(name)
			switch {
			case !ok:
				bad("task %q: %s: no task named %q", t.Name, what, name)
			case j == i:
				bad("task %q: %s: depends on itself", t.Name, what)
			default:
				all = append(all, int32(j))
			}
		}
		for _, in := range t.Inputs {
			if in.Task == "" {
				continue
			}
			dep(fmt.Sprintf("input %q", in.Name), in.Task)
			if j, ok := g.Index(in.Task); ok && !slices.Contains(f.Tasks[j].Outputs, in.Output) {
				bad("task %q: input %q: task %q has no output %q", t.Name, in.Name, in.Task, in.Output)
			}
		}
		for _, a := range t.After {
			dep("after", a)
		}
		deps := all[start:]
		slices.Sort(deps)
		all = all[:start+len(slices.Compact(deps))]
		if len(all) > 1<<31-1 {
			return nil, fmt.Errorf("flow %s: more than %d dependencies is too many: %w", f.Name, len(all)-1, ErrInvalid)
		}
		g.depsAt[i+1] = int32(len(all))
	}
	g.deps = slices.Clip(all)
	if len(problems) == 0 {
		var cycles []string
		g.Order, cycles = g.order()
		for _, c := range cycles {
			bad("cycle: %s", c)
		}
	}
	if len(problems) > 0 {
		return nil, &FlowError{Flow: f.Name, Problems: problems}
	}
	return g, nil
}

// FlowError lists every problem found in a flow. It wraps [ErrInvalid].
type FlowError struct {
	Flow     string
	Problems []error
}

func (e *FlowError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "flow %q: %d problem", e.Flow, len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteByte('s')
	}
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap returns the problems, each wrapping ErrInvalid.
func (e *FlowError) Unwrap() []error { return e.Problems }

// check returns the task's own problems, those that need no other task;
// resErr is what t.Resources.Validate returned.
func (t *Task) check(resErr error) []string {
	var p []string
	switch {
	case len(t.Argv) == 0 && t.Func == nil:
		p = append(p, "no command: set argv or func")
	case len(t.Argv) > 0 && t.Func != nil:
		p = append(p, "both argv and func are set")
	case len(t.Argv) > 0 && t.Argv[0] == "":
		p = append(p, fmt.Sprintf("argv[0] is empty in %q", t.Argv))
	case t.Func != nil && t.FuncKey == "":
		p = append(p, "func without func_key: the key names what the func computes, for the cache")
	}
	for _, e := range t.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			p = append(p, fmt.Sprintf("env entry %q: want KEY=value", e))
		}
	}
	if resErr != nil {
		p = append(p, strings.TrimSuffix(resErr.Error(), ": "+ErrInvalid.Error()))
	}
	if t.Attempts < 0 {
		p = append(p, fmt.Sprintf("attempts %d: must not be negative", t.Attempts))
	}
	if t.Estimate < 0 {
		p = append(p, fmt.Sprintf("estimate %v: must not be negative", t.Estimate))
	}
	if t.Timeout < 0 {
		p = append(p, fmt.Sprintf("timeout %v: must not be negative", t.Timeout))
	}
	names := map[string]bool{}
	for _, in := range t.Inputs {
		if !localPath(in.Name) {
			p = append(p, fmt.Sprintf("input %q: want a relative path inside the work directory", in.Name))
		} else if names[in.Name] {
			p = append(p, fmt.Sprintf("input %q: given twice", in.Name))
		}
		names[in.Name] = true
		sources := 0
		for _, set := range []bool{in.Task != "" || in.Output != "", in.Digest != "", in.Path != ""} {
			if set {
				sources++
			}
		}
		switch {
		case sources != 1:
			p = append(p, fmt.Sprintf("input %q: want exactly one source (task and output, digest, or path), got %d", in.Name, sources))
		case in.Digest != "":
			if err := in.Digest.Validate(); err != nil {
				p = append(p, fmt.Sprintf("input %q: digest %q: %v", in.Name, in.Digest, err))
			}
		case in.Task != "" && in.Output == "" || in.Task == "" && in.Output != "":
			p = append(p, fmt.Sprintf("input %q: want both task and output", in.Name))
		}
	}
	outs := map[string]bool{}
	for _, o := range t.Outputs {
		if !localPath(o) {
			p = append(p, fmt.Sprintf("output %q: want a relative path inside the work directory", o))
		} else if outs[o] {
			p = append(p, fmt.Sprintf("output %q: given twice", o))
		}
		outs[o] = true
	}
	return p
}

func validName(name string) error {
	if name == "" || len(name) > 255 {
		return errors.New("want 1 to 255 bytes")
	}
	// One pass over the bytes: a control character is one byte in
	// UTF-8, and no byte of a longer rune is below 0x80.
	control, sep := false, false
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c < 0x20 || c == 0x7f:
			control = true
		case c == '/' || c == '\\':
			sep = true
		}
	}
	if control {
		return errors.New("control characters not allowed")
	}
	// A task's name names its outputs' directory (ebb run -outputs DIR
	// writes DIR/task/output): it must stay one path element.
	if sep {
		return errors.New("path separators not allowed")
	}
	if name == "." || name == ".." {
		return errors.New("not a file name")
	}
	return nil
}

func localPath(p string) bool { return p != "" && filepath.IsLocal(p) }

// order sorts the graph topologically (Kahn's algorithm), and fills in
// the dependents. When the graph has cycles it returns, instead of a
// full order, one line per cycle naming its tasks in the order they
// would run, as "a → b → a".
func (g *Graph) order() ([]int32, []string) {
	n := len(g.depsAt) - 1
	g.dependentsAt, g.dependents = dependentsOf(g.depsAt, g.deps)
	waiting := make([]int32, n)
	for i := range n {
		waiting[i] = g.depsAt[i+1] - g.depsAt[i]
	}
	order := make([]int32, 0, n)
	for i := range n {
		if waiting[i] == 0 {
			order = append(order, int32(i))
		}
	}
	for k := 0; k < len(order); k++ {
		for _, c := range g.Dependents(order[k]) {
			if waiting[c]--; waiting[c] == 0 {
				order = append(order, c)
			}
		}
	}
	if len(order) == n {
		return order, nil
	}
	// Every task left waits for another task left. Walk back along
	// dependencies from each unvisited one until a task repeats: that
	// closes a cycle.
	var cycles []string
	state := make([]uint8, n) // 0 unseen, 1 on the current walk, 2 done
	for i := range n {
		if waiting[i] == 0 || state[i] != 0 {
			continue
		}
		var walk []int32
		at := int32(i)
		for state[at] == 0 {
			state[at] = 1
			walk = append(walk, at)
			for _, d := range g.Deps(at) {
				if waiting[d] > 0 {
					at = d
					break
				}
			}
		}
		if state[at] == 1 {
			// The walk went against the arrows: reverse it, so each
			// task runs before the next, and start at the lowest
			// index, so the same cycle always reads the same.
			cycle := slices.Clone(walk[slices.Index(walk, at):])
			slices.Reverse(cycle)
			low := slices.Index(cycle, slices.Min(cycle))
			cycle = append(cycle[low:], cycle[:low+1]...)
			names := make([]string, len(cycle))
			for k, c := range cycle {
				names[k] = fmt.Sprintf("%q", g.Flow.Tasks[c].Name)
			}
			cycles = append(cycles, strings.Join(names, " → "))
		}
		for _, w := range walk {
			state[w] = 2
		}
	}
	return nil, cycles
}

// dependentsOf inverts the dependencies: task i waits for
// deps[depsAt[i]:depsAt[i+1]]; the tasks that wait for task i are
// dependents[at[i]:at[i+1]], in increasing order.
func dependentsOf(depsAt, deps []int32) (at, dependents []int32) {
	n := len(depsAt) - 1
	at = make([]int32, n+1)
	for _, d := range deps {
		at[d+1]++
	}
	for i := range n {
		at[i+1] += at[i]
	}
	dependents = make([]int32, len(deps))
	fill := slices.Clone(at[:n])
	for i := range n {
		for _, d := range deps[depsAt[i]:depsAt[i+1]] {
			dependents[fill[d]] = int32(i)
			fill[d]++
		}
	}
	return at, dependents
}

// Paths returns the distinct local files named by the flow's inputs, in
// lexical order: those a runner stores into its repository before the run.
func (f *Flow) Paths() []string {
	set := map[string]bool{}
	for i := range f.Tasks {
		for _, in := range f.Tasks[i].Inputs {
			if in.Path != "" {
				set[in.Path] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// Requirements returns what the flow needs at its widest: Min is the
// largest task's resources, key by key, and Width the most tasks that share
// a depth in the graph (a cheap bound on how many can run at once).
func (g *Graph) Requirements() Requirements {
	tasks := g.Flow.Tasks
	min := Resources{}
	depth := make([]int32, len(tasks))
	// Tasks by depth: in topological order a task is at most one deeper
	// than the deepest so far.
	var perDepth []int32
	var last Resources // counted already
	for _, i := range g.Order {
		for _, d := range g.Deps(i) {
			depth[i] = max(depth[i], depth[d]+1)
		}
		if int(depth[i]) == len(perDepth) {
			perDepth = append(perDepth, 0)
		}
		perDepth[depth[i]]++
		if r := tasks[i].Resources; last == nil || !sameMap(r, last) {
			for k, v := range r {
				if v > min[k] {
					min[k] = v
				}
			}
			last = r
		}
	}
	var width int32
	for _, n := range perDepth {
		width = max(width, n)
	}
	return Requirements{Min: min, Width: int(width)}
}

// inputOrder returns the indexes of inputs sorted by name.
func inputOrder(inputs []Input) []int {
	order := make([]int, len(inputs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(inputs[a].Name, inputs[b].Name) })
	return order
}

func sortedCopy(s []string) []string {
	if slices.IsSorted(s) {
		return s
	}
	return slices.Sorted(slices.Values(s))
}

// sameMap reports whether a and b are the same map, not merely equal
// ones: tasks built in Go often share one, and a flow does not change
// while it is read.
func sameMap(a, b Resources) bool {
	// A map value is one pointer (what reflect.Value.UnsafePointer
	// reads, at a call's cost).
	return *(*unsafe.Pointer)(unsafe.Pointer(&a)) == *(*unsafe.Pointer)(unsafe.Pointer(&b))
}
