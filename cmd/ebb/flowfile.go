package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
	"go.yaml.in/yaml/v3"
)

// A flow file describes a flow for people who do not write Go. It is YAML
// 1.2 or JSON (YAML is read by converting it to JSON, so both have the
// same fields; in YAML 1.2 only true and false are booleans, so an output
// named n or no stays a name):
//
//	name: wordcount
//	tasks:
//	  - name: split
//	    argv: [split, --number=l/2, input.txt, part-]
//	    resources: cpu=1,mem=256MiB
//	    inputs:
//	      - {name: input.txt, path: data/input.txt}
//	    outputs: [part-aa, part-ab]
//	  - name: count-a
//	    argv: [sh, -c, "wc -w < part > n"]
//	    env: [PATH=/usr/bin:/bin]
//	    inputs:
//	      - {name: part, task: split, output: part-aa}
//	    outputs: [n]
//	    attempts: 2
//	    timeout: 90s
//	    kind: count
//	    estimate: 30s
//
// Resources use the text form of ebb.ParseResources. Timeout (a Go
// duration) is ebb.Task's Timeout: a try running longer is killed, and
// tried again while attempts remain. Kind and estimate (a Go duration)
// are ebb.Task's Kind and Estimate: what the policy sizes the run by
// until tasks of the kind have run. A path input is read
// relative to the flow file's directory. Unknown fields are errors, so a
// misspelt field is never silently ignored.
type flowFile struct {
	Name  string     `json:"name"`
	Tasks []taskFile `json:"tasks"`
}

type taskFile struct {
	Name      string      `json:"name"`
	Argv      []string    `json:"argv"`
	Env       []string    `json:"env"`
	Resources string      `json:"resources"`
	Inputs    []ebb.Input `json:"inputs"`
	Outputs   []string    `json:"outputs"`
	After     []string    `json:"after"`
	Attempts  int         `json:"attempts"`
	Timeout   string      `json:"timeout"`
	Kind      string      `json:"kind"`
	Estimate  string      `json:"estimate"`
}

// readFlow reads and validates the flow file at path.
func readFlow(path string) (*ebb.Flow, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseFlow(b, filepath.Dir(path), path)
}

// parseFlow decodes a flow file's content; dir resolves relative input
// paths, and name names the file in errors, which wrap ebb.ErrInvalid. An
// error about one task names it and its line. No error quotes the file's
// content beyond field names and the values of fields it names: a file
// given by mistake (a key, a token) does not end up in a terminal or a log.
func parseFlow(b []byte, dir, name string) (*ebb.Flow, error) {
	if flow, ok := decodeJSON(b, dir); ok {
		if flow, err := finishFlow(flow, name); err == nil {
			return flow, nil
		}
		// The YAML path below finds the same fault and names its line.
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("flow file %s: %s: %w", name, redactYAML(err), ebb.ErrInvalid)
	}
	var doc any
	if err := root.Decode(&doc); err != nil {
		return nil, fmt.Errorf("flow file %s: %s: %w", name, redactYAML(err), ebb.ErrInvalid)
	}
	tasks := taskNodes(&root)
	var ff flowFile
	if err := decodeStrict(doc, &ff); err != nil {
		// Find the task at fault, to name it and its line.
		for i, n := range tasks {
			var t any
			if n.Decode(&t) != nil {
				continue
			}
			if terr := decodeStrict(t, new(taskFile)); terr != nil {
				return nil, fmt.Errorf("flow file %s: %s: %v: %w", name, taskAt(tasks, i), terr, ebb.ErrInvalid)
			}
		}
		return nil, fmt.Errorf("flow file %s: %v: %w", name, err, ebb.ErrInvalid)
	}
	return buildFlow(&ff, dir, name, tasks)
}

// buildFlow makes the flow that ff, decoded from the flow file called
// name, describes, and validates it; tasks, when known, are the YAML
// nodes of its tasks, for the lines errors name.
func buildFlow(ff *flowFile, dir, name string, tasks []*yaml.Node) (*ebb.Flow, error) {
	if len(ff.Tasks) == 0 {
		return nil, fmt.Errorf("flow file %s: no tasks: %w", name, ebb.ErrInvalid)
	}
	flow := &ebb.Flow{Name: ff.Name, Tasks: make([]ebb.Task, len(ff.Tasks))}
	shared := map[string]ebb.Resources{}
	for i := range ff.Tasks {
		var err error
		if flow.Tasks[i], err = buildTask(&ff.Tasks[i], dir, shared); err != nil {
			return nil, fmt.Errorf("flow file %s: %s: %w", name, taskAt(tasks, i), err)
		}
	}
	return finishFlow(flow, name)
}

// buildTask makes the task t describes; dir resolves relative input
// paths. Tasks of one resources text share one Resources, kept in
// shared: a flow's tasks are read, never written, and most of a big
// flow's tasks are of a few shapes.
func buildTask(t *taskFile, dir string, shared map[string]ebb.Resources) (ebb.Task, error) {
	res, ok := shared[t.Resources]
	if !ok {
		var err error
		if res, err = ebb.ParseResources(t.Resources); err != nil {
			return ebb.Task{}, err
		}
		shared[t.Resources] = res
	}
	var err error
	var estimate time.Duration
	if t.Estimate != "" {
		if estimate, err = time.ParseDuration(t.Estimate); err != nil || estimate < 0 {
			return ebb.Task{}, fmt.Errorf("estimate %q: want a duration such as 90s or 20m: %w", t.Estimate, ebb.ErrInvalid)
		}
	}
	var timeout time.Duration
	if t.Timeout != "" {
		if timeout, err = time.ParseDuration(t.Timeout); err != nil || timeout < 0 {
			return ebb.Task{}, fmt.Errorf("timeout %q: want a duration such as 90s or 2h: %w", t.Timeout, ebb.ErrInvalid)
		}
	}
	inputs := make([]ebb.Input, len(t.Inputs))
	for j, in := range t.Inputs {
		if in.Path != "" && !filepath.IsAbs(in.Path) {
			in.Path = filepath.Join(dir, in.Path)
		}
		inputs[j] = in
	}
	return ebb.Task{
		Name: t.Name, Argv: t.Argv, Env: t.Env, Resources: res,
		Inputs: inputs, Outputs: t.Outputs, After: t.After, Attempts: t.Attempts, Timeout: timeout,
		Kind: t.Kind, Estimate: estimate,
	}, nil
}

// finishFlow names flow after its file called name when it has no name,
// and validates it.
func finishFlow(flow *ebb.Flow, name string) (*ebb.Flow, error) {
	if flow.Name == "" {
		flow.Name = strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
	}
	if err := flow.Validate(); err != nil {
		return nil, fmt.Errorf("flow file %s: %w", name, err)
	}
	return flow, nil
}

// decodeStrict decodes doc, as YAML decoded it, into v through JSON,
// refusing unknown fields.
func decodeStrict(doc any, v any) error {
	js, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// taskNodes returns the nodes of the items of the document's tasks
// sequence, or nil if it has none.
func taskNodes(root *yaml.Node) []*yaml.Node {
	doc := root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if k, v := doc.Content[i], doc.Content[i+1]; k.Value == "tasks" && v.Kind == yaml.SequenceNode {
			return v.Content
		}
	}
	return nil
}

// taskAt names task i of a flow file, and its line when known:
// task 2 "count" (line 14).
func taskAt(tasks []*yaml.Node, i int) string {
	if i >= len(tasks) {
		return fmt.Sprintf("task %d", i)
	}
	n := tasks[i]
	name := ""
	if n.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == "name" && n.Content[j+1].Kind == yaml.ScalarNode {
				name = n.Content[j+1].Value
			}
		}
	}
	return fmt.Sprintf("task %d %q (line %d)", i, name, n.Line)
}

// redactYAML returns the message of a YAML error without the pieces of
// the input it quotes (`value`, 'anchor'), each replaced by (…).
func redactYAML(err error) string {
	msg := err.Error()
	var b strings.Builder
	for {
		i := strings.IndexAny(msg, "`'")
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		b.WriteString(msg[:i])
		b.WriteString("(…)")
		j := strings.IndexByte(msg[i+1:], msg[i])
		if j < 0 {
			return b.String()
		}
		msg = msg[i+1+j+1:]
	}
}
