package main

import (
	"errors"
	"reflect"
	"testing"

	"github.com/ebbflow/ebb"
)

// TestJSONFlowAsYAML checks that a JSON flow file read straight from
// JSON gives the flow the YAML path gives for the same text (a leading
// YAML comment keeps it off the JSON path).
func TestJSONFlowAsYAML(t *testing.T) {
	const js = `{"name": "wc", "tasks": [
 {"name": "split", "argv": ["split", "in"], "env": ["B=2", "A=1"], "resources": "cpu=1,mem=256MiB",
  "inputs": [{"name": "in", "path": "data/in.txt"}, {"name": "ref", "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000"}],
  "outputs": ["part-aa", "n", "no"], "attempts": 2, "timeout": "90s", "kind": "split", "estimate": "30s"},
 {"name": "count", "argv": ["wc", "-w", "part\u00e9"], "inputs": [{"name": "part", "task": "split", "output": "part-aa"}],
  "outputs": ["n"], "after": ["split"], "Attempts": 1}
]}`
	if flow, ok := decodeJSON([]byte(js), "/data"); !ok || len(flow.Tasks) != 2 {
		t.Fatalf("the JSON path refused a JSON flow file")
	}
	fast, err := parseFlow([]byte(js), "/data", "x.json")
	if err != nil {
		t.Fatal(err)
	}
	slow, err := parseFlow([]byte("# yaml\n"+js), "/data", "x.json")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Errorf("JSON path gave\n%+v\nYAML path gave\n%+v", fast, slow)
	}
}

// TestJSONFlowRefusals checks that what YAML refuses in a JSON flow file
// is refused on the JSON path too: a key twice in one object, however
// it is spelt.
func TestJSONFlowRefusals(t *testing.T) {
	for _, content := range []string{
		`{"tasks": [{"name": "a", "argv": ["x"], "name": "b"}]}`,
		`{"tasks": [{"name": "a", "argv": ["x"], "n\u0061me": "b"}]}`,
		`{"tasks": [{"name": "a", "argv": ["x"]}], "tasks": []}`,
		`{"tasks": [{"name": "a", "argv": ["x"], "inputs": [{"name": "i", "path": "p", "path": "q"}]}]}`,
	} {
		if _, ok := decodeJSON([]byte(content), "/data"); ok {
			t.Errorf("%s: taken by the JSON path", content)
		}
		if _, err := parseFlow([]byte(content), "/data", "x.json"); !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", content, err)
		}
	}
	// Keys may repeat in different objects, and strings may look like
	// keys.
	ok := `{"tasks": [{"name": "a", "argv": ["name", "{\"name\":1,"]}, {"name": "b", "argv": ["x"]}]}`
	if _, taken := decodeJSON([]byte(ok), "/data"); !taken {
		t.Errorf("%s: refused by the JSON path", ok)
	}
}
