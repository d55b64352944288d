package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
//
// Resources use the text form of ebb.ParseResources. A path input is read
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
// paths, and name names the file in errors, which wrap ebb.ErrInvalid.
func parseFlow(b []byte, dir, name string) (*ebb.Flow, error) {
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("flow file %s: %v: %w", name, err, ebb.ErrInvalid)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("flow file %s: %v: %w", name, err, ebb.ErrInvalid)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	var ff flowFile
	if err := dec.Decode(&ff); err != nil {
		return nil, fmt.Errorf("flow file %s: %v: %w", name, err, ebb.ErrInvalid)
	}
	if len(ff.Tasks) == 0 {
		return nil, fmt.Errorf("flow file %s: no tasks: %w", name, ebb.ErrInvalid)
	}
	flow := &ebb.Flow{Name: ff.Name, Tasks: make([]ebb.Task, len(ff.Tasks))}
	if flow.Name == "" {
		flow.Name = strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
	}
	for i, t := range ff.Tasks {
		res, err := ebb.ParseResources(t.Resources)
		if err != nil {
			return nil, fmt.Errorf("flow file %s: task %q: %w", name, t.Name, err)
		}
		inputs := make([]ebb.Input, len(t.Inputs))
		for j, in := range t.Inputs {
			if in.Path != "" && !filepath.IsAbs(in.Path) {
				in.Path = filepath.Join(dir, in.Path)
			}
			inputs[j] = in
		}
		flow.Tasks[i] = ebb.Task{
			Name: t.Name, Argv: t.Argv, Env: t.Env, Resources: res,
			Inputs: inputs, Outputs: t.Outputs, After: t.After, Attempts: t.Attempts,
		}
	}
	if err := flow.Validate(); err != nil {
		return nil, fmt.Errorf("flow file %s: %w", name, err)
	}
	return flow, nil
}
