package main

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/ebbflow/ebb"
)

// decodeJSON reads a flow file written in JSON task by task, straight
// into the tasks of the flow, without the YAML document tree that
// parseFlow otherwise builds (for a flow of a million tasks, the tree
// alone takes gigabytes); dir resolves relative input paths. The flow is
// not validated. It reports false, leaving the file to the YAML path,
// for anything that path would treat differently or refuse: a file that
// is not one JSON object, invalid UTF-8, a key given twice in one object
// (an error in YAML, where encoding/json keeps the last), an unknown
// field, a value of the wrong type, a task that does not build, or no
// tasks. Field names match as encoding/json matches them, ignoring case.
func decodeJSON(b []byte, dir string) (*ebb.Flow, bool) {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '{' || !utf8.Valid(b) {
		return nil, false
	}
	unique, items := scanKeys(b)
	if !unique {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	flow := new(ebb.Flow)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		switch key, _ := tok.(string); {
		case strings.EqualFold(key, "name"):
			var name *string
			if dec.Decode(&name) != nil {
				return nil, false
			}
			flow.Name = ""
			if name != nil {
				flow.Name = *name
			}
		case strings.EqualFold(key, "tasks"):
			tasks, ok := decodeTasks(dec, dir, items)
			if !ok {
				return nil, false
			}
			flow.Tasks = tasks
		default:
			return nil, false
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF || len(flow.Tasks) == 0 {
		return nil, false
	}
	return flow, true
}

// decodeTasks decodes the value of a flow file's tasks, null or an array
// of tasks, building each task as it comes; there are likely n.
func decodeTasks(dec *json.Decoder, dir string, n int) ([]ebb.Task, bool) {
	tok, err := dec.Token()
	if err != nil || tok == nil {
		return nil, err == nil
	}
	if tok != json.Delim('[') {
		return nil, false
	}
	tasks := make([]ebb.Task, 0, n)
	shared := map[string]ebb.Resources{}
	for dec.More() {
		var t taskFile
		if dec.Decode(&t) != nil {
			return nil, false
		}
		task, err := buildTask(&t, dir, shared)
		if err != nil {
			return nil, false
		}
		tasks = append(tasks, task)
	}
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	return tasks, true
}

// scanKeys reports whether no object in the JSON text b has a key twice,
// and how many objects are items of an array that is a value of the
// top object (a flow file's tasks). It reads b as JSON only as far as
// needed to find the keys: b that is not JSON may pass, and is refused
// by the decoder. Keys with escapes are compared as their decoded
// strings.
func scanKeys(b []byte) (unique bool, items int) {
	type object struct {
		keys      map[string]struct{}
		expectKey bool // the next string is a key
	}
	var stack []*object
	var free []*object // objects to reuse, their maps cleared
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '{':
			if len(stack) == 2 && stack[0] != nil && stack[1] == nil {
				items++
			}
			var o *object
			if n := len(free); n > 0 {
				o, free = free[n-1], free[:n-1]
			} else {
				o = &object{keys: map[string]struct{}{}}
			}
			o.expectKey = true
			stack = append(stack, o)
		case '[':
			stack = append(stack, nil)
		case '}', ']':
			if len(stack) == 0 {
				return true, items
			}
			if o := stack[len(stack)-1]; o != nil {
				clear(o.keys)
				free = append(free, o)
			}
			stack = stack[:len(stack)-1]
		case ',':
			if len(stack) > 0 && stack[len(stack)-1] != nil {
				stack[len(stack)-1].expectKey = true
			}
		case '"':
			j, escaped := i+1, false
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					escaped = true
					j++
				}
				j++
			}
			if j >= len(b) {
				return true, items
			}
			if len(stack) > 0 && stack[len(stack)-1] != nil && stack[len(stack)-1].expectKey {
				o := stack[len(stack)-1]
				o.expectKey = false
				key := string(b[i+1 : j])
				if escaped {
					if json.Unmarshal(b[i:j+1], &key) != nil {
						return true, items
					}
				}
				if _, dup := o.keys[key]; dup {
					return false, items
				}
				o.keys[key] = struct{}{}
			}
			i = j
		}
	}
	return true, items
}
